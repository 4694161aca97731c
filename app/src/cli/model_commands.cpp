// verity metrics, verity report: model quality from a running server.
#include <cstdio>
#include <iostream>

#include <simdjson.h>

#include "command.h"

namespace verity::cli {
namespace {

// GET /v1/models as a table.
int print_models(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::array models;
  if (parser.parse(body).get(root) || root["models"].get_array().get(models)) {
    std::cerr << "verity metrics: unexpected answer from the server\n";
    return 3;
  }
  std::printf("%-24s %-14s %-9s %-28s %12s %12s %-24s %s\n", "MODEL", "TASK", "SOURCE",
              "SCORE READ AS", "PREDICTIONS", "LABELLED", "LAST PREDICTION", "VERSIONS");
  std::vector<std::string> warnings;
  for (simdjson::dom::element m : models) {
    std::string versions;
    for (auto v : m["versions"].get_array()) {
      versions += (versions.empty() ? "" : ",") + std::string(v["version"].get_string().value());
    }
    std::string semantics = "-";
    std::string_view text;
    if (!m["score_semantics"]["value"].get_string().get(text)) {
      semantics = std::string(text);
      if (!m["score_semantics"]["source"].get_string().get(text) && text == "configured") {
        semantics += " (cfg)";
      }
    }
    simdjson::dom::array ws;
    if (!m["warnings"].get_array().get(ws)) {
      for (auto w : ws) {
        if (!w.get_string().get(text)) {
          warnings.push_back(std::string(m["model"].get_string().value()) + ": " +
                             std::string(text));
        }
      }
    }
    std::printf("%-24s %-14s %-9s %-28s %12llu %12llu %-24s %s\n",
                std::string(m["model"].get_string().value()).c_str(),
                std::string(m["task"].get_string().value()).c_str(),
                std::string(m["task_source"].get_string().value()).c_str(), semantics.c_str(),
                static_cast<unsigned long long>(m["predictions"].get_uint64().value()),
                static_cast<unsigned long long>(m["labelled"].get_uint64().value()),
                std::string(m["last_prediction"].get_string().value()).c_str(), versions.c_str());
  }
  simdjson::dom::element l = root["labels"];
  std::printf("labels: %llu joined, %llu corrections, %llu pending, %llu orphaned\n",
              static_cast<unsigned long long>(l["joined"].get_uint64().value()),
              static_cast<unsigned long long>(l["corrections"].get_uint64().value()),
              static_cast<unsigned long long>(l["pending"].get_uint64().value()),
              static_cast<unsigned long long>(l["orphaned"].get_uint64().value()));
  for (const auto& w : warnings) std::printf("warning: %s\n", w.c_str());
  return 0;
}

// GET /v1/models/{model}/metrics as a table.
int print_metrics(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element r;
  simdjson::dom::object metrics;
  if (parser.parse(body).get(r) || r["metrics"].get_object().get(metrics)) {
    std::cerr << "verity metrics: unexpected answer from the server\n";
    return 3;
  }
  const std::string version =
      r["version"].is_null() ? "(all)" : std::string(r["version"].get_string().value());
  std::printf("model %s  version %s  task %s (%s)\n",
              std::string(r["model"].get_string().value()).c_str(), version.c_str(),
              std::string(r["task"].get_string().value()).c_str(),
              std::string(r["task_source"].get_string().value()).c_str());
  std::printf("from %s  to %s\n", std::string(r["from"].get_string().value()).c_str(),
              std::string(r["to"].get_string().value()).c_str());
  std::printf("%-32s %.0f\n%-32s %.0f\n", "predictions", r["predictions"].get_double().value(),
              "labelled", r["labelled"].get_double().value());
  std::string_view text;
  simdjson::dom::element positive;
  if (!r["positive_class"].get(positive)) {
    std::printf("%-32s %s\n", "positive class", std::string(simdjson::minify(positive)).c_str());
  }
  simdjson::dom::element sem;
  if (!r["score_semantics"].get(sem)) {
    std::printf("%-32s %s (%s)", "score read as",
                std::string(sem["value"].get_string().value()).c_str(),
                std::string(sem["source"].get_string().value()).c_str());
    double d = 0;
    if (!sem["score_label_disagreement_ratio"].get_double().get(d)) {
      std::printf(", %.2f%% of scores contradict the predicted label", 100 * d);
    }
    std::printf("\n");
  }
  simdjson::dom::array warnings;
  if (!r["warnings"].get_array().get(warnings)) {
    for (auto w : warnings) {
      if (!w.get_string().get(text)) std::printf("warning: %s\n", std::string(text).c_str());
    }
  }
  for (auto [name, value] : metrics) {
    if (value.is_null()) continue;
    std::printf("%-32s %.6g\n", std::string(name).c_str(), value.get_double().value());
  }
  simdjson::dom::element cm;
  if (!r["confusion_matrix"].get(cm)) {
    std::printf("\nconfusion matrix (rows: true, columns: predicted)\n%-16s", "");
    for (auto c : cm["labels"].get_array()) {
      std::printf(" %12.12s", std::string(simdjson::minify(c)).c_str());
    }
    std::printf("\n");
    size_t i = 0;
    std::vector<std::string> labels;
    for (auto c : cm["labels"].get_array()) labels.push_back(std::string(simdjson::minify(c)));
    for (auto row : cm["matrix"].get_array()) {
      std::printf("%-16.16s", labels[i++].c_str());
      for (auto v : row.get_array()) std::printf(" %12.0f", v.get_double().value());
      std::printf("\n");
    }
  }
  return 0;
}

// The window options metrics and report share, as a query string.
struct Window {
  std::string version, window, from, to;
  bool all_versions = true;

  void attach(CLI::App* cmd) {
    cmd->add_option("--version", version, "Only this model version")
        ->each([this](const std::string&) { all_versions = false; });
    cmd->add_option("--window", window, "5m, 1h, 24h, 7d, 30d or <n>m|h|d (default: all)");
    cmd->add_option("--from", from, "Start (RFC 3339 or epoch ms)");
    cmd->add_option("--to", to, "End (RFC 3339 or epoch ms)");
  }
  std::string query() const {
    std::string q;
    auto add = [&](const char* k, const std::string& v) {
      q += (q.empty() ? "?" : "&") + std::string(k) + "=" + app::url_encode_segment(v);
    };
    if (!all_versions) add("version", version);
    if (!window.empty()) add("window", window);
    if (!from.empty()) add("from", from);
    if (!to.empty()) add("to", to);
    return q;
  }
};

class Metrics final : public Command {
 public:
  CLI::App* attach(CLI::App& app) override {
    auto* cmd = app.add_subcommand(
        "metrics", "Model quality: no model lists the models; a model prints its report");
    cmd->add_option("model", model_, "Model name");
    window_.attach(cmd);
    cmd->add_flag("--json", as_json_, "Print the server's JSON answer");
    client_.attach(cmd, kServerTokenHelp);
    return cmd;
  }

  int run() override {
    std::string path = "/v1/models";
    if (!model_.empty()) {
      path += "/" + app::url_encode_segment(model_) + "/metrics" + window_.query();
    }
    std::string body;
    const int status = client_.call("GET", path, "", "metrics", &body);
    if (status / 100 != 2) return exit_code(status);
    if (as_json_) {
      std::cout << body;
      return 0;
    }
    return model_.empty() ? print_models(body) : print_metrics(body);
  }

 private:
  std::string model_;
  Window window_;
  bool as_json_ = false;
  Client client_;
};

class Report final : public Command {
 public:
  CLI::App* attach(CLI::App& app) override {
    auto* cmd = app.add_subcommand(
        "report", "Write a model's report as one self-contained HTML file (charts, no network)");
    cmd->add_option("model", model_, "Model name")->required();
    window_.attach(cmd);
    cmd->add_option("-o,--output", output_, "The HTML file to write")->required();
    client_.attach(cmd, kServerTokenHelp);
    return cmd;
  }

  int run() override {
    std::string body;
    const int status = client_.call(
        "GET", "/v1/models/" + app::url_encode_segment(model_) + "/report.html" + window_.query(),
        "", "report", &body);
    if (status / 100 != 2) return exit_code(status);
    // Written beside the target, then renamed over it: a failed write leaves no half a report.
    const std::string tmp = output_ + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    const bool written = f != nullptr && std::fwrite(body.data(), 1, body.size(), f) == body.size();
    const bool closed = f != nullptr && std::fclose(f) == 0;
    if (!written || !closed || std::rename(tmp.c_str(), output_.c_str()) != 0) {
      std::remove(tmp.c_str());
      std::cerr << "verity report: cannot write " << output_ << "\n";
      return 2;
    }
    std::cout << "verity report: wrote " << output_ << " (" << human_bytes(body.size()) << ")\n";
    return 0;
  }

 private:
  std::string model_, output_;
  Window window_;
  Client client_;
};

}  // namespace

std::unique_ptr<Command> metrics_command() { return std::make_unique<Metrics>(); }
std::unique_ptr<Command> report_command() { return std::make_unique<Report>(); }

}  // namespace verity::cli
