#include "verity/quality/quality_config.h"

namespace verity::quality {

const char* score_semantics_name(ScoreSemantics s) {
  switch (s) {
    case ScoreSemantics::kPositiveClassProbability:
      return "positive_class_probability";
    case ScoreSemantics::kOtherClassProbability:
      return "other_class_probability";
    case ScoreSemantics::kPredictedClassConfidence:
      return "predicted_class_confidence";
    case ScoreSemantics::kClassProbabilities:
      return "class_probabilities";
  }
  return "unknown";
}

std::optional<ScoreSemantics> parse_score_semantics(std::string_view name) {
  for (auto s : {ScoreSemantics::kPositiveClassProbability, ScoreSemantics::kOtherClassProbability,
                 ScoreSemantics::kPredictedClassConfidence, ScoreSemantics::kClassProbabilities}) {
    if (name == score_semantics_name(s)) return s;
  }
  return std::nullopt;
}

const char* task_name(Task t) {
  switch (t) {
    case Task::kBinary:
      return "binary";
    case Task::kMulticlass:
      return "multiclass";
    case Task::kRegression:
      return "regression";
  }
  return "unknown";
}

std::optional<Task> parse_task(std::string_view name) {
  if (name == "binary") return Task::kBinary;
  if (name == "multiclass") return Task::kMulticlass;
  if (name == "regression") return Task::kRegression;
  return std::nullopt;
}

}  // namespace verity::quality
