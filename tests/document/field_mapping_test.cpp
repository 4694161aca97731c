#include "verity/document/field_mapping.h"

#include <gtest/gtest.h>

namespace verity::document {
namespace {

TEST(JsonPointer, ParsesAndUnescapes) {
  auto p = parse_json_pointer("/model/name").value();
  EXPECT_EQ(p.tokens, (std::vector<std::string>{"model", "name"}));
  EXPECT_EQ(parse_json_pointer("/@timestamp").value().tokens[0], "@timestamp");
  EXPECT_EQ(parse_json_pointer("/a~1b/c~0d").value().tokens,
            (std::vector<std::string>{"a/b", "c~d"}));
}

TEST(JsonPointer, RejectsInvalid) {
  EXPECT_FALSE(parse_json_pointer("model").is_ok());
  EXPECT_FALSE(parse_json_pointer("").is_ok());
  EXPECT_FALSE(parse_json_pointer("/a//b").is_ok());
  EXPECT_FALSE(parse_json_pointer("/a~2").is_ok());
  EXPECT_FALSE(parse_json_pointer("/a~").is_ok());
}

TEST(FieldMapping, DefaultsMatchDesign) {
  const auto m = FieldMapping::defaults();
  auto texts = [&](Field f) {
    std::vector<std::string> out;
    for (const auto& p : m.pointers(f)) out.push_back(p.text);
    return out;
  };
  EXPECT_EQ(texts(Field::kRequestId),
            (std::vector<std::string>{"/request_id", "/prediction_id", "/inference_id", "/id"}));
  EXPECT_EQ(texts(Field::kTimestamp), (std::vector<std::string>{"/@timestamp", "/timestamp"}));
  EXPECT_EQ(texts(Field::kModelName),
            (std::vector<std::string>{"/model/name", "/model_name", "/model"}));
  EXPECT_EQ(texts(Field::kModelVersion),
            (std::vector<std::string>{"/model/version", "/model_version"}));
  EXPECT_EQ(texts(Field::kGroundTruth),
            (std::vector<std::string>{"/ground_truth", "/label", "/actual"}));
  EXPECT_EQ(texts(Field::kLatency), (std::vector<std::string>{"/latency_ms"}));
}

}  // namespace
}  // namespace verity::document
