// Model-quality metrics end to end with the real binary: labels before and after their
// predictions, corrections, duplicates and a kill -9 in the middle, every metric compared with
// scikit-learn (tests/integration/sklearn_oracle.py, Debian's scikit-learn) and with a clean run;
// a real Prometheus scraping verity; promtool on the exposition and on the shipped alert rules.

#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "server_process.h"
#include "test_client.h"
#include "verity/app/http_client.h"
#include "verity/core/time_format.h"

namespace verity::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const std::string kSklearnPath =
    std::string(VERITY_SOURCE_DIR) + "/.cache/sklearn/usr/lib/python3/dist-packages";

struct Labelled {
  std::string id;
  std::string truth;  // JSON
  std::string wrong;  // JSON: a label that is sent first and corrected later
};

struct ModelData {
  ModelData(std::string n, std::string t, std::string c = "")
      : name(std::move(n)), task(std::move(t)), convention(std::move(c)) {}
  std::string name, task;
  // Binary models: how the document carries the score (what scikit-learn is given is always
  // P(positive)): positive_class_probability, other_class_probability (P of the lesser class),
  // predicted_class_confidence, class_probabilities (a per-class object, with many scores very
  // close to 0 and 1).
  std::string convention;
  std::vector<std::string> predictions;  // NDJSON lines
  std::vector<Labelled> labels;
  std::vector<std::string> y_pred;  // JSON, per label
  std::vector<double> score;        // binary only, per label
};

std::string label_line(const std::string& id, const std::string& truth) {
  return "{\"request_id\":\"" + id + "\",\"ground_truth\":" + truth + "}";
}

// 2000 predictions per model over the last two hours; 85% get a label.
std::vector<ModelData> generate() {
  std::mt19937_64 rng(20261124);
  std::uniform_real_distribution<double> u(0, 1);
  std::normal_distribution<double> noise(0, 5);
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const std::vector<std::string> species = {"\"setosa\"", "\"versicolor\"", "\"virginica\"",
                                            "\"other kind\""};
  std::vector<ModelData> out = {{"fraud", "binary", "positive_class_probability"},
                                {"species", "multiclass"},
                                {"price", "regression"},
                                {"churn", "binary", "other_class_probability"},
                                {"checkout", "binary", "predicted_class_confidence"},
                                {"spam", "binary", "class_probabilities"}};
  char buf[64];
  for (auto& m : out) {
    for (int i = 0; i < 2000; ++i) {
      const std::string id = m.name + "-" + std::to_string(i);
      const int64_t ts = now - static_cast<int64_t>(u(rng) * 7'200'000);
      std::string truth, predicted, extra;
      double score = -1;
      if (m.task == "binary") {
        // The positive class is the greater one (scikit-learn's convention): true, "stay",
        // "legit", "spam".
        static const std::map<std::string, std::pair<std::string, std::string>> kClasses = {
            {"fraud", {"false", "true"}},
            {"churn", {"\"churn\"", "\"stay\""}},
            {"checkout", {"\"abandon\"", "\"legit\""}},
            {"spam", {"\"ham\"", "\"spam\""}}};
        const auto& [negative, positive] = kClasses.at(m.name);
        const bool t = u(rng) < 0.3;
        score = t ? 0.3 + 0.7 * u(rng) : 0.7 * u(rng);           // P(positive)
        if (i % 10 == 0) score = std::round(score * 100) / 100;  // ties
        if (m.convention == "class_probabilities" && i % 3 == 0) {
          score = t ? 1 - std::pow(10, -9 * u(rng)) : std::pow(10, -9 * u(rng));
        }
        truth = t ? positive : negative;
        const bool says_positive = score >= 0.5;
        predicted = says_positive ? positive : negative;
        double carried = score;
        if (m.convention == "other_class_probability") carried = 1 - score;
        if (m.convention == "predicted_class_confidence")
          carried = says_positive ? score : 1 - score;
        std::snprintf(buf, sizeof buf, "%.17g", carried);
        extra = std::string(",\"score\":") + buf;
        if (m.convention == "class_probabilities") {
          char probs[128];
          std::snprintf(probs, sizeof probs, ",\"probabilities\":{%s:%.17g,%s:%.17g}",
                        positive.c_str(), score, negative.c_str(), 1 - score);
          extra = probs;
        }
        predicted = "{\"label\":" + predicted + extra + "}";
      } else if (m.task == "multiclass") {
        const size_t t = static_cast<size_t>(u(rng) * 4) % 4;
        const size_t p = u(rng) < 0.7 ? t : static_cast<size_t>(u(rng) * 4) % 4;
        truth = species[t];
        predicted = "{\"class\":" + species[p] + "}";
      } else {
        const double y = 10 + 90 * u(rng);
        std::snprintf(buf, sizeof buf, "%.17g", y);
        truth = buf;
        std::snprintf(buf, sizeof buf, "%.17g", y + noise(rng));
        predicted = std::string("{\"value\":") + buf + "}";
      }
      std::snprintf(buf, sizeof buf, "%.3f", u(rng));
      m.predictions.push_back("{\"request_id\":\"" + id + "\",\"timestamp\":" + std::to_string(ts) +
                              ",\"model\":{\"name\":\"" + m.name +
                              "\",\"version\":\"v1\"},\"inputs\":{\"x\":" + std::to_string(i) +
                              "},\"prediction\":" + predicted + ",\"confidence\":" + buf + "}");
      if (u(rng) >= 0.85) continue;
      std::string wrong = m.task == "binary"       ? (truth == "true" ? "false" : "true")
                          : m.task == "multiclass" ? (truth == species[0] ? species[1] : species[0])
                                                   : truth + "1";
      m.labels.push_back({id, truth, wrong});
      simdjson::dom::parser parser;
      simdjson::dom::element doc = parser.parse(m.predictions.back());
      simdjson::dom::element pv = doc["prediction"];
      m.y_pred.push_back(std::string(simdjson::minify(m.task == "binary"       ? pv["label"]
                                                      : m.task == "multiclass" ? pv["class"]
                                                                               : pv["value"])));
      m.score.push_back(score);
    }
  }
  return out;
}

void post(const ServerProcess& s, const std::string& path, const std::vector<std::string>& lines) {
  for (size_t i = 0; i < lines.size(); i += 400) {
    std::string body;
    for (size_t j = i; j < std::min(lines.size(), i + 400); ++j) body += lines[j] + "\n";
    auto r = app::http_request("POST", s.http_url() + path, body, {}, 60'000);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    ASSERT_EQ(r->status, 200) << r->body;
  }
}

std::string report(const ServerProcess& s, const std::string& model) {
  auto r = app::http_get(s.http_url() + "/v1/models/" + model + "/metrics");
  EXPECT_TRUE(r.is_ok());
  EXPECT_EQ(r->status, 200) << r->body;
  return r->body;
}

std::string reports_json(const ServerProcess& s, const std::vector<ModelData>& models) {
  std::string out = "{";
  for (const auto& m : models) {
    if (out.size() > 1) out += ",";
    out += "\"" + m.name + "\":" + report(s, m.name);
  }
  return out + "}";
}

void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

std::string data_json(const std::vector<ModelData>& models) {
  std::string out = "{";
  char buf[64];
  for (const auto& m : models) {
    if (out.size() > 1) out += ",";
    out += "\"" + m.name + "\":{\"task\":\"" + m.task + "\",\"score_semantics\":\"" + m.convention +
           "\",\"predictions\":" + std::to_string(m.predictions.size()) + ",\"y_true\":[";
    for (size_t i = 0; i < m.labels.size(); ++i) out += (i ? "," : "") + m.labels[i].truth;
    out += "],\"y_pred\":[";
    for (size_t i = 0; i < m.y_pred.size(); ++i) out += (i ? "," : "") + m.y_pred[i];
    out += "],\"score\":[";
    for (size_t i = 0; i < m.score.size() && m.task == "binary"; ++i) {
      std::snprintf(buf, sizeof buf, "%.17g", m.score[i]);
      out += std::string(i ? "," : "") + buf;
    }
    out += "]}";
  }
  return out + "}";
}

TEST(ModelMetrics, MatchScikitLearnAndACleanRunDespiteLateLabelsCorrectionsAndACrash) {
  ASSERT_TRUE(fs::exists(kSklearnPath + "/sklearn"))
      << "scikit-learn is missing: run scripts/deps --test (unpacks it under .cache/sklearn)";
  const auto models = generate();
  TempDir dir;

  // The messy run: a third of the labels (some wrong, corrected later) before their predictions,
  // predictions sent twice in part, a kill -9, then the other labels, some wrong first and some
  // sent twice.
  ServerProcess messy(dir.path() / "messy");
  messy.start();
  std::vector<std::string> early, late, replay;
  for (const auto& m : models) {
    for (size_t i = 0; i < m.labels.size(); ++i) {
      const auto& l = m.labels[i];
      if (i % 3 == 0) {
        early.push_back(label_line(l.id, i % 9 == 0 ? l.wrong : l.truth));
        if (i % 9 == 0) late.push_back(label_line(l.id, l.truth));
      } else {
        if (i % 5 == 0) late.push_back(label_line(l.id, l.wrong));
        late.push_back(label_line(l.id, l.truth));
        if (i % 7 == 0) replay.push_back(label_line(l.id, l.truth));
      }
    }
  }
  post(messy, "/v1/labels", early);
  for (const auto& m : models) {
    post(messy, "/v1/predictions", m.predictions);
    post(messy, "/v1/predictions",
         std::vector<std::string>(m.predictions.begin(), m.predictions.begin() + 300));
  }
  messy.kill9();
  messy.start();
  post(messy, "/v1/labels", late);
  post(messy, "/v1/labels", replay);

  // The clean run: every prediction once, then every final label once.
  ServerProcess clean(dir.path() / "clean");
  clean.start();
  std::vector<std::string> finals;
  for (const auto& m : models) {
    post(clean, "/v1/predictions", m.predictions);
    for (const auto& l : m.labels) finals.push_back(label_line(l.id, l.truth));
  }
  post(clean, "/v1/labels", finals);

  const std::string messy_reports = reports_json(messy, models);
  write(dir.path() / "data.json", data_json(models));
  write(dir.path() / "messy.json", messy_reports);
  write(dir.path() / "clean.json", reports_json(clean, models));
  const auto oracle = run_command(
      "PYTHONPATH=" + kSklearnPath + " /usr/bin/python3 " + VERITY_SOURCE_DIR +
      "/tests/integration/sklearn_oracle.py " + (dir.path() / "data.json").string() + " " +
      (dir.path() / "messy.json").string() + " " + (dir.path() / "clean.json").string() + " 2>&1");
  EXPECT_EQ(oracle.exit_code, 0) << oracle.output;
  EXPECT_NE(oracle.output.find("all metrics agree"), std::string::npos) << oracle.output;
  // The comparisons ran (a broken oracle printing nothing must not pass).
  EXPECT_NE(oracle.output.find("fraud      roc_auc"), std::string::npos) << oracle.output;
  EXPECT_NE(oracle.output.find("price      r2"), std::string::npos) << oracle.output;

  // The join counters: every label joined once, corrections counted, nothing left waiting.
  auto listing = app::http_get(messy.http_url() + "/v1/models");
  ASSERT_TRUE(listing.is_ok());
  size_t labelled = 0;
  for (const auto& m : models) labelled += m.labels.size();
  EXPECT_NE(listing->body.find("\"joined\":" + std::to_string(labelled) + ","), std::string::npos)
      << listing->body;
  EXPECT_NE(listing->body.find("\"pending\":0,"), std::string::npos) << listing->body;
  EXPECT_NE(listing->body.find("\"task\":\"multiclass\",\"task_source\":\"inferred\""),
            std::string::npos)
      << listing->body;

  // A restart changes no metric.
  ASSERT_EQ(messy.terminate(), 0);
  messy.start();
  EXPECT_EQ(reports_json(messy, models), messy_reports);
}

// A real Prometheus (Debian's) scrapes a running verity; the accuracy series read back through
// Prometheus's HTTP API equals verity's own report, and promtool accepts the exposition.
TEST(ModelMetrics, ARealPrometheusScrapesTheModelGauges) {
  TempDir dir;
  ServerProcess server(dir.path() / "data", "metrics:\n  models:\n    refresh_interval: 200ms\n");
  server.start();
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  std::vector<std::string> predictions, labels;
  for (int i = 0; i < 40; ++i) {
    const std::string id = "p-" + std::to_string(i);
    predictions.push_back(
        "{\"request_id\":\"" + id + "\",\"timestamp\":" + std::to_string(now - i * 1000) +
        ",\"model\":{\"name\":\"fraud\",\"version\":\"v7\"},"
        "\"inputs\":{\"amount\":" +
        std::to_string(10 * i) + "},\"prediction\":{\"label\":" + (i % 2 ? "true" : "false") +
        ",\"score\":0." + std::to_string(i % 10) + "}}");
    // 30 labels, 10 of them wrong: accuracy 2/3.
    if (i < 30) labels.push_back(label_line(id, (i % 2 == 0) == (i < 10) ? "true" : "false"));
  }
  post(server, "/v1/predictions", predictions);
  post(server, "/v1/labels", labels);
  const std::string series = R"(verity_model_accuracy{model="fraud",version="v7",window="1h"})";
  ASSERT_EQ(wait_for_metric(server.http_url(), series, 2.0 / 3, 30s), 2.0 / 3) << server.log();

  // promtool lints the whole exposition (names, units, help texts, counters' _total).
  auto exposition = app::http_get(server.http_url() + "/metrics");
  ASSERT_TRUE(exposition.is_ok());
  write(dir.path() / "metrics.txt", exposition->body);
  const auto lint =
      run_command("promtool check metrics < " + (dir.path() / "metrics.txt").string() + " 2>&1");
  EXPECT_EQ(lint.exit_code, 0) << lint.output;

  const uint16_t port = free_port();
  write(dir.path() / "prometheus.yml",
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - " +
            std::string(VERITY_SOURCE_DIR) +
            "/config/prometheus/verity-alerts.yml\n"
            "scrape_configs:\n  - job_name: verity\n    static_configs:\n      - targets: ['" +
            server.http().to_string() + "']\n");
  ChildProcess prometheus(
      {"prometheus", "--config.file=" + (dir.path() / "prometheus.yml").string(),
       "--storage.tsdb.path=" + (dir.path() / "tsdb").string(),
       "--web.listen-address=127.0.0.1:" + std::to_string(port)},
      dir.path() / "prometheus.log");
  const std::string query = "http://127.0.0.1:" + std::to_string(port) +
                            "/api/v1/query?query=verity_model_accuracy%7Bmodel%3D%22fraud%22%2C"
                            "window%3D%221h%22%7D";
  std::string answer;
  const bool scraped = wait_until(
      [&] {
        auto r = app::http_get(query);
        if (!r.is_ok() || r->status != 200) return false;
        answer = r->body;
        return answer.find("\"result\":[{") != std::string::npos;
      },
      60s);
  ASSERT_TRUE(scraped) << answer << prometheus.log();
  simdjson::dom::parser parser;
  simdjson::dom::element result = parser.parse(answer)["data"]["result"].at(0);
  EXPECT_EQ(std::string(result["metric"]["version"].get_string().value()), "v7");
  EXPECT_EQ(std::string(result["metric"]["job"].get_string().value()), "verity");
  const double through_prometheus =
      std::stod(std::string(result["value"].at(1).get_string().value()));
  auto report = app::http_get(server.http_url() + "/v1/models/fraud/metrics?window=1h");
  ASSERT_TRUE(report.is_ok());
  const double reported = parser.parse(report->body)["metrics"]["accuracy"].get_double().value();
  EXPECT_DOUBLE_EQ(through_prometheus, reported);
  EXPECT_DOUBLE_EQ(reported, 2.0 / 3);
  // The rules loaded into the real server (none fires for this model).
  auto rules = app::http_get("http://127.0.0.1:" + std::to_string(port) + "/api/v1/rules");
  ASSERT_TRUE(rules.is_ok());
  EXPECT_NE(rules->body.find("VerityModelAccuracyDrop"), std::string::npos) << rules->body;
  EXPECT_TRUE(prometheus.running()) << prometheus.log();
}

TEST(ModelMetrics, QualityCanBeTurnedOffWhileLabelsStillJoin) {
  TempDir dir;
  ServerProcess server(dir.path() / "data", "metrics: {quality: {enabled: false}}\n");
  server.start();
  const std::string now = format_rfc3339(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
  send_ndjson(server.tcp(),
              prediction_line("q-1", now) + "\n" + label_line("q-1", "\"fraud\"") + "\n");
  EXPECT_EQ(
      wait_for_metric(server.http_url(), R"(verity_ingest_events_stored_total{input="tcp"})", 2),
      2);
  for (const char* path : {"/v1/models", "/v1/models/fraud/metrics"}) {
    auto r = app::http_get(server.http_url() + path);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r->status, 404) << path;
    EXPECT_NE(r->body.find("metrics.quality.enabled"), std::string::npos) << r->body;
  }
  auto got = app::http_get(server.http_url() + "/v1/predictions/q-1");
  ASSERT_TRUE(got.is_ok());
  EXPECT_NE(got->body.find(R"("ground_truth":"fraud")"), std::string::npos) << got->body;
  auto metrics = app::http_get(server.http_url() + "/metrics");
  ASSERT_TRUE(metrics.is_ok());
  EXPECT_EQ(metrics->body.find("verity_model_predictions{"), std::string::npos);
  // The label is stored with its prediction; the join's counters are part of the aggregates.
  EXPECT_EQ(scrape(server.http_url(), "verity_labels_joined_total"), 0);
  // models.<name>.quality cannot turn it back on for one model: the key is only global.
  const auto file = dir.path() / "per-model.yaml";
  std::ofstream(file) << "models: {fraud: {quality: {enabled: true}}}\n";
  auto checked =
      run_command(std::string(VERITY_BINARY) + " check-config --config " + file.string() + " 2>&1");
  EXPECT_NE(checked.exit_code, 0);
  EXPECT_NE(checked.output.find("models.fraud.quality.enabled"), std::string::npos)
      << checked.output;
}

}  // namespace
}  // namespace verity::testing
