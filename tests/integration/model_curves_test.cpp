// GET /v1/models/{model}/curves end to end with the real binary: predictions and labels ingested
// over HTTP, the curves compared with the same server's /metrics (the embedded report is the
// /metrics answer, the areas are its roc_auc and average_precision, accuracy over time sums to
// each version's accuracy), with scikit-learn (tests/integration/sklearn_curves_oracle.py: exact
// points where every score has its own bin, areas otherwise), the errors, the role and the read
// audit.

#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "server_process.h"
#include "test_client.h"
#include "verity/app/http_client.h"
#include "verity/query/model_quality.h"

namespace verity::testing {
namespace {

namespace fs = std::filesystem;

const std::string kSklearnPath =
    std::string(VERITY_SOURCE_DIR) + "/.cache/sklearn/usr/lib/python3/dist-packages";

struct Model {
  Model(std::string n, std::string t, bool e = false)
      : name(std::move(n)), task(std::move(t)), exact(e) {}
  std::string name, task;
  bool exact = false;  // every score in the middle of its own score bin
  std::vector<std::string> predictions, labels;
  std::vector<int> y;          // binary: 1 for the positive class, per label
  std::vector<double> scores;  // binary: P(positive), per label
};

// 1200 predictions per model over the last two hours, versions v1 and v2; 85% labelled.
std::vector<Model> generate() {
  std::mt19937_64 rng(20261130);
  std::uniform_real_distribution<double> u(0, 1);
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::vector<Model> out = {{"fraud", "binary", true},
                            {"churn", "binary", false},
                            {"species", "multiclass"},
                            {"price", "regression"}};
  const std::vector<std::string> species = {"\"setosa\"", "\"versicolor\"", "\"virginica\""};
  char buf[256];
  for (auto& m : out) {
    for (int i = 0; i < 1200; ++i) {
      const std::string id = m.name + "-" + std::to_string(i);
      const int64_t ts = now - static_cast<int64_t>(u(rng) * 7'200'000);
      std::string prediction, truth;
      double score = -1;
      bool positive = false;
      if (m.task == "binary") {
        if (m.exact) {
          const int b = static_cast<int>(u(rng) * (quality::kScoreBins - 1));
          score = (quality::score_bin_lower_bound(b) + quality::score_bin_lower_bound(b + 1)) / 2;
          positive = u(rng) < score;
        } else {
          positive = u(rng) < 0.35;
          score = positive ? 0.25 + 0.75 * u(rng) : 0.75 * u(rng);
          if (i % 4 == 0) score = std::round(score * 100) / 100;  // ties
          if (i % 9 == 0)
            score = positive ? 1 - std::pow(10, -10 * u(rng)) : std::pow(10, -10 * u(rng));
        }
        const std::string pos = m.exact ? "true" : "\"stay\"",
                          neg = m.exact ? "false" : "\"churn\"";
        std::snprintf(buf, sizeof buf, "{\"label\":%s,\"score\":%.17g}",
                      (score >= 0.5 ? pos : neg).c_str(), score);
        prediction = buf;
        truth = positive ? pos : neg;
      } else if (m.task == "multiclass") {
        const size_t t = static_cast<size_t>(u(rng) * 3) % 3;
        double p[3], sum = 0;
        for (size_t k = 0; k < 3; ++k) sum += p[k] = u(rng) + (k == t ? 0.8 : 0.0);
        size_t best = 0;
        for (size_t k = 0; k < 3; ++k) {
          p[k] /= sum;
          if (p[k] > p[best]) best = k;
        }
        std::snprintf(buf, sizeof buf,
                      "{\"class\":%s,\"probabilities\":{\"setosa\":%.6f,\"versicolor\":%.6f,"
                      "\"virginica\":%.6f}}",
                      species[best].c_str(), p[0], p[1], p[2]);
        prediction = buf;
        truth = species[t];
      } else {
        const double y = 10 + 90 * u(rng);
        std::snprintf(buf, sizeof buf, "{\"value\":%.6f}", y + 5 * (u(rng) - 0.5));
        prediction = buf;
        std::snprintf(buf, sizeof buf, "%.6f", y);
        truth = buf;
      }
      std::snprintf(buf, sizeof buf, "%.3f", u(rng));
      m.predictions.push_back(
          "{\"request_id\":\"" + id + "\",\"timestamp\":" + std::to_string(ts) +
          ",\"model\":{\"name\":\"" + m.name + "\",\"version\":\"" + (i % 2 ? "v2" : "v1") +
          "\"},\"inputs\":{\"x\":" + std::to_string(i % 50) + (i % 10 ? ",\"region\":\"EU\"" : "") +
          "},\"prediction\":" + prediction + ",\"confidence\":" + buf + "}");
      if (u(rng) >= 0.85) continue;
      m.labels.push_back("{\"request_id\":\"" + id + "\",\"ground_truth\":" + truth + "}");
      if (m.task == "binary") {
        m.y.push_back(positive ? 1 : 0);
        m.scores.push_back(score);
      }
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

std::string get(const ServerProcess& s, const std::string& path, int status = 200) {
  auto r = app::http_get(s.http_url() + path, 60'000);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  if (!r.is_ok()) return "";
  EXPECT_EQ(r->status, status) << path << ": " << r->body;
  return r->body;
}

std::string minified(simdjson::dom::element e) { return std::string(simdjson::minify(e)); }

TEST(ModelCurves, AgreeWithTheReportAndScikitLearn) {
  const auto models = generate();
  TempDir dir;
  ServerProcess server(dir.path() / "data");
  server.start();
  for (const auto& m : models) {
    post(server, "/v1/predictions", m.predictions);
    post(server, "/v1/labels", m.labels);
  }

  simdjson::dom::parser parser, other;
  std::string curves_all = "{";
  for (const auto& m : models) {
    SCOPED_TRACE(m.name);
    for (const std::string& query :
         {std::string(""), std::string("?version=v2"), std::string("?window=24h")}) {
      SCOPED_TRACE(query);
      const std::string curves = get(server, "/v1/models/" + m.name + "/curves" + query);
      const std::string metrics = get(server, "/v1/models/" + m.name + "/metrics" + query);
      simdjson::dom::element c, r;
      ASSERT_FALSE(parser.parse(curves).get(c)) << curves.substr(0, 300);
      ASSERT_FALSE(other.parse(metrics).get(r)) << metrics.substr(0, 300);
      // The report inside is the /metrics answer (a window ending now: the same minute, unless
      // the two requests straddle one).
      if (query != "?window=24h" || minified(c["report"]["from"]) == minified(r["from"])) {
        EXPECT_EQ(minified(c["report"]), minified(r));
      }
      EXPECT_EQ(std::string_view(c["time_zone"]), "UTC");
      EXPECT_EQ(std::string_view(c["task"]), m.task);
      const auto series = c["accuracy_over_time"];
      EXPECT_EQ(std::string_view(series["metric"]),
                m.task == "regression" ? "mean_absolute_error" : "accuracy");
      // Over time, per version: the buckets' labelled counts and metric add up to the version's.
      for (auto v : simdjson::dom::array(series["versions"])) {
        const std::string version{std::string_view(v["version"])};
        simdjson::dom::parser vp;
        const std::string vm = get(server, "/v1/models/" + m.name + "/metrics?version=" + version +
                                               "&from=" + std::string(std::string_view(c["from"])) +
                                               "&to=" + std::string(std::string_view(c["to"])));
        simdjson::dom::element vr = vp.parse(vm);
        double labelled = 0, weighted = 0;
        for (auto p : simdjson::dom::array(v["points"])) {
          labelled += double(p["labelled"]);
          if (!p["value"].is_null()) weighted += double(p["value"]) * double(p["labelled"]);
        }
        EXPECT_EQ(labelled, double(vr["labelled"])) << version;
        EXPECT_NEAR(weighted / labelled, double(vr["metrics"][std::string_view(series["metric"])]),
                    1e-6)
            << version;
      }
      EXPECT_EQ(simdjson::dom::array(series["versions"]).size(), query == "?version=v2" ? 1u : 2u);
      if (m.task == "binary") {
        const double auc = double(r["metrics"]["roc_auc"]);
        EXPECT_EQ(double(c["roc"]["auc"]), auc);
        EXPECT_EQ(double(c["reference"]["roc_auc"]), auc);
        double area = 0, fpr = 0, tpr = 0;
        for (auto p : simdjson::dom::array(c["roc"]["points"])) {
          EXPECT_GE(double(p["fpr"]), fpr);
          EXPECT_GE(double(p["tpr"]), tpr);
          area += (double(p["fpr"]) - fpr) * (double(p["tpr"]) + tpr) / 2;
          fpr = double(p["fpr"]);
          tpr = double(p["tpr"]);
        }
        EXPECT_NEAR(area, auc, 1e-9);
        double ap = 0, recall = 0;
        for (auto p : simdjson::dom::array(c["precision_recall"]["points"])) {
          ap += (double(p["recall"]) - recall) * double(p["precision"]);
          recall = double(p["recall"]);
        }
        EXPECT_NEAR(ap, double(r["metrics"]["average_precision"]), 1e-9);
        double n = 0, ece = 0;
        for (auto b : simdjson::dom::array(c["calibration"]["bins"])) {
          n += double(b["count"]);
          ece += double(b["count"]) *
                 std::fabs(double(b["observed_frequency"]) - double(b["mean_predicted"]));
        }
        EXPECT_NEAR(ece / n, double(r["metrics"]["expected_calibration_error"]), 1e-9);
      } else if (m.task == "multiclass") {
        EXPECT_EQ(simdjson::dom::array(c["one_vs_rest"]).size(), 3u);
        EXPECT_TRUE(c["roc"].error());
      } else {
        EXPECT_NE(curves.find("error_histogram: the aggregates keep sums"), std::string::npos);
      }
      if (query.empty() && m.task == "binary") {
        curves_all +=
            std::string(curves_all.size() > 1 ? "," : "") + "\"" + m.name + "\":" + curves;
      }
    }
  }
  curves_all += "}";

  // scikit-learn on the same labelled predictions.
  ASSERT_TRUE(fs::exists(kSklearnPath + "/sklearn"))
      << "scikit-learn is missing: run scripts/deps --test (unpacks it under .cache/sklearn)";
  std::string data = "{";
  char buf[40];
  for (const auto& m : models) {
    if (m.task != "binary") continue;
    data += std::string(data.size() > 1 ? "," : "") + "\"" + m.name +
            "\":{\"exact\":" + (m.exact ? "true" : "false") + ",\"y_true\":[";
    for (size_t i = 0; i < m.y.size(); ++i) data += (i ? "," : "") + std::to_string(m.y[i]);
    data += "],\"score\":[";
    for (size_t i = 0; i < m.scores.size(); ++i) {
      std::snprintf(buf, sizeof buf, "%.17g", m.scores[i]);
      data += std::string(i ? "," : "") + buf;
    }
    data += "]}";
  }
  data += "}";
  std::ofstream(dir.path() / "data.json") << data;
  std::ofstream(dir.path() / "curves.json") << curves_all;
  const auto oracle = run_command(
      "PYTHONPATH=" + kSklearnPath + " /usr/bin/python3 " + VERITY_SOURCE_DIR +
      "/tests/integration/sklearn_curves_oracle.py " + (dir.path() / "data.json").string() + " " +
      (dir.path() / "curves.json").string() + " 2>&1");
  EXPECT_EQ(oracle.exit_code, 0) << oracle.output;
  EXPECT_NE(oracle.output.find("all curves agree"), std::string::npos) << oracle.output;
  EXPECT_NE(oracle.output.find("fraud      roc_curve points"), std::string::npos) << oracle.output;
  EXPECT_NE(oracle.output.find("churn      roc_auc"), std::string::npos) << oracle.output;
  std::cout << oracle.output;

  // Errors as /metrics answers them.
  get(server, "/v1/models/nosuch/curves", 404);
  get(server, "/v1/models/fraud/curves?version=v9", 404);
  get(server, "/v1/models/fraud/curves?window=forever", 400);
  get(server, "/v1/models/fraud/curves?window=1h&from=0", 400);
  get(server, "/v1/models/fraud/curves?from=yesterday", 400);

  // Every read is in the read audit, as model_curves.
  const std::string trail = get(server, "/v1/audit?kind=read&limit=10000");
  EXPECT_NE(trail.find("\"endpoint\":\"model_curves\""), std::string::npos);
  EXPECT_NE(trail.find("/v1/models/fraud/curves?version=v2"), std::string::npos);
  EXPECT_NE(trail.find("/v1/models/nosuch/curves"), std::string::npos);
}

TEST(ModelCurves, NeedTheReadRole) {
  TempDir dir;
  ServerProcess server(
      dir.path() / "data",
      "auth:\n  tokens:\n"
      "    - {name: auditor, token: \"auditor-secret-0123456789\", roles: [read]}\n"
      "    - {name: shipper, token: \"shipper-secret-0123456789\", roles: [ingest]}\n");
  server.start();
  const std::string line = prediction_line("r-1", "2026-11-20T10:30:00Z", "fraud");
  auto sent = app::http_request("POST", server.http_url() + "/v1/predictions", line + "\n",
                                {"Authorization: Bearer shipper-secret-0123456789"});
  ASSERT_TRUE(sent.is_ok());
  ASSERT_EQ(sent->status, 200) << sent->body;
  auto ask = [&](const std::string& token) {
    std::vector<std::string> headers;
    if (!token.empty()) headers.push_back("Authorization: Bearer " + token);
    auto r = app::http_request("GET", server.http_url() + "/v1/models/fraud/curves", "", headers);
    EXPECT_TRUE(r.is_ok());
    return r.is_ok() ? r->status : 0;
  };
  EXPECT_EQ(ask(""), 401);
  EXPECT_EQ(ask("shipper-secret-0123456789"), 403);
  EXPECT_EQ(ask("auditor-secret-0123456789"), 200);
}

}  // namespace
}  // namespace verity::testing

namespace verity::testing {
namespace {

// The <script type="application/json"> block of a report page.
std::string data_block(const std::string& html) {
  const std::string open = "<script type=\"application/json\" id=\"verity-data\">";
  const size_t at = html.find(open);
  const size_t end = html.find("</script>", at);
  if (at == std::string::npos || end == std::string::npos) return "";
  return html.substr(at + open.size(), end - at - open.size());
}

std::string minified(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  if (parser.parse(json).get(e)) return "(not JSON) " + json.substr(0, 200);
  return std::string(simdjson::minify(e));
}

TEST(ModelReport, TheHtmlPageEmbedsTheCurvesAndLoadsNothing) {
  auto models = generate();
  // A model and version named to break out of the page: the version is asked for by parameter
  // (a model name cannot hold the '/' of "</script>": it is a path segment).
  const std::string hostile_model = "<img src=x onerror=alert(1)>";
  const std::string hostile_version = "</script><script>alert(1)</script>";
  std::vector<std::string> hostile;
  for (int i = 0; i < 20; ++i) {
    std::string line = "{\"request_id\":\"h-" + std::to_string(i) +
                       "\",\"timestamp\":" + std::to_string(1'764'000'000'000 + i * 1000) +
                       ",\"model\":{\"name\":\"<img src=x onerror=alert(1)>\",\"version\":\"" +
                       "</script><script>alert(1)</script>\"},\"inputs\":{\"x\":1},"
                       "\"prediction\":{\"label\":" +
                       (i % 2 ? "true" : "false") + ",\"score\":0." + std::to_string(i % 10) + "}}";
    hostile.push_back(line);
  }
  TempDir dir;
  ServerProcess server(dir.path() / "data");
  server.start();
  for (const auto& m : models) {
    post(server, "/v1/predictions", m.predictions);
    post(server, "/v1/labels", m.labels);
  }
  post(server, "/v1/predictions", hostile);

  for (const std::string& path :
       {std::string("/v1/models/fraud"), std::string("/v1/models/species"),
        "/v1/models/" + app::url_encode_segment(hostile_model)}) {
    SCOPED_TRACE(path);
    const std::string q = path.find("img") != std::string::npos
                              ? "?version=" + app::url_encode_segment(hostile_version)
                              : "?version=v1";
    auto page = app::http_get(server.http_url() + path + "/report.html" + q, 60'000);
    ASSERT_TRUE(page.is_ok());
    ASSERT_EQ(page->status, 200) << page->body.substr(0, 300);
    const std::string curves = get(server, path + "/curves" + q);
    const std::string block = data_block(page->body);
    EXPECT_EQ(minified(block), minified(curves));
    EXPECT_EQ(block.find_first_of("<>"), std::string::npos);
    EXPECT_EQ(page->body.find("http://"), std::string::npos);
    EXPECT_EQ(page->body.find("https://"), std::string::npos);
    EXPECT_EQ(page->body.find("<script>alert"), std::string::npos);
    EXPECT_EQ(page->body.find("<img"), std::string::npos);
    bool html = false, policy = false;
    for (const auto& [k, v] : page->headers) {
      if (k == "content-type" || k == "Content-Type") html = v.starts_with("text/html");
      if (k == "content-security-policy" || k == "Content-Security-Policy") {
        policy = v.starts_with("default-src 'none'");
      }
    }
    EXPECT_TRUE(html);
    EXPECT_TRUE(policy);
  }
  get(server, "/v1/models/nosuch/report.html", 404);
  get(server, "/v1/models/fraud/report.html?window=soon", 400);
  EXPECT_NE(get(server, "/v1/audit?kind=read&limit=10000").find("\"endpoint\":\"model_report\""),
            std::string::npos);

  // verity report: the same page, written to a file; 1 for an unknown model, 3 when the server
  // cannot be reached (as verity metrics).
  const std::string bin = VERITY_BINARY;
  const fs::path out = dir.path() / "report.html";
  auto run = run_command(bin + " report fraud --server " + server.http_url() + " -o " +
                         out.string() + " 2>&1");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  std::ifstream in(out);
  const std::string written((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(minified(data_block(written)), minified(get(server, "/v1/models/fraud/curves")));
  EXPECT_EQ(written.find("https://"), std::string::npos);
  run = run_command(bin + " report nosuch --server " + server.http_url() + " -o " +
                    (dir.path() / "none.html").string() + " 2>&1");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_FALSE(fs::exists(dir.path() / "none.html"));
  run = run_command(bin + " report fraud --server http://127.0.0.1:" + std::to_string(free_port()) +
                    " -o " + (dir.path() / "none.html").string() + " 2>&1");
  EXPECT_EQ(run.exit_code, 3) << run.output;
  run = run_command(bin + " report fraud --window 7d --version v2 --server " + server.http_url() +
                    " -o " + (dir.path() / "v2.html").string() + " 2>&1");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(fs::exists(dir.path() / "v2.html"));
}

}  // namespace
}  // namespace verity::testing

namespace verity::testing {
namespace {

// Where tests leave files for people to look at (screenshots): $VERITY_TEST_ARTIFACTS, else
// test-artifacts/ in the working directory (build/tests under ctest).
fs::path artifacts_dir() {
  const char* env = std::getenv("VERITY_TEST_ARTIFACTS");
  fs::path dir =
      env != nullptr && *env != '\0' ? fs::path(env) : fs::current_path() / "test-artifacts";
  fs::create_directories(dir);
  return dir;
}

// Debian's Chromium, headless, opens reports written by `verity report` from file:// URLs
// (tests/peers/report_browser.js, puppeteer-core): no console error, no request but file://, no
// dialog, every chart drawn, a heatmap of classes x classes cells; screenshots kept as artifacts.
TEST(ModelReport, OpensInARealBrowserFromAFile) {
  ASSERT_TRUE(fs::exists("/usr/bin/chromium")) << "chromium is missing: run scripts/deps --test";
  ASSERT_TRUE(fs::exists(peers_dir() + "/node_modules/puppeteer-core"))
      << "the npm test peers are missing: run scripts/deps --test";
  auto models = generate();
  TempDir dir;
  ServerProcess server(dir.path() / "data");
  server.start();
  for (const auto& m : models) {
    post(server, "/v1/predictions", m.predictions);
    post(server, "/v1/labels", m.labels);
  }
  const fs::path artifacts = artifacts_dir();
  for (const auto& m : models) {
    SCOPED_TRACE(m.name);
    const fs::path html = dir.path() / (m.name + ".html");
    auto run = run_command(std::string(VERITY_BINARY) + " report " + m.name + " --server " +
                           server.http_url() + " -o " + html.string() + " 2>&1");
    ASSERT_EQ(run.exit_code, 0) << run.output;
    const fs::path png = artifacts / ("model-report-" + m.name + ".png");
    fs::remove(png);
    run = run_command("node " + peers_dir() + "/report_browser.js --report " + html.string() +
                      " --screenshot " + png.string() + " 2>&1");
    EXPECT_EQ(run.exit_code, 0) << run.output;
    EXPECT_NE(run.output.find("\"ok\":true"), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("\"problems\":[]"), std::string::npos) << run.output;
    if (m.task != "regression") {
      EXPECT_NE(run.output.find("\"classes\":" + std::string(m.task == "binary" ? "2" : "3")),
                std::string::npos)
          << run.output;
    }
    EXPECT_TRUE(fs::exists(png) && fs::file_size(png) > 10'000) << png;
    std::cout << m.name << ": " << run.output;
  }
  // The hostile page too: an injected script would raise a dialog, which fails the check.
  std::vector<std::string> hostile;
  for (int i = 0; i < 10; ++i) {
    hostile.push_back("{\"request_id\":\"h-" + std::to_string(i) +
                      "\",\"timestamp\":1764000000000,\"model\":{\"name\":\"<img src=x "
                      "onerror=alert(1)>\",\"version\":\"</script><script>alert(1)</script>\"},"
                      "\"prediction\":{\"label\":" +
                      std::string(i % 2 ? "true" : "false") + "}}");
  }
  post(server, "/v1/predictions", hostile);
  const fs::path html = dir.path() / "hostile.html";
  auto run = run_command(std::string(VERITY_BINARY) + " report '<img src=x onerror=alert(1)>'" +
                         " --version '</script><script>alert(1)</script>' --server " +
                         server.http_url() + " -o " + html.string() + " 2>&1");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  run = run_command("node " + peers_dir() + "/report_browser.js --report " + html.string() +
                    " --screenshot " + (artifacts / "model-report-hostile.png").string() + " 2>&1");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("\"problems\":[]"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace verity::testing
