// The audit console (GET /ui/) with the real binary: the page is served without credentials under
// its Content-Security-Policy (no remote origin) while the API it calls still asks for them, and
// Debian's Chromium drives it (tests/peers/console_browser.js, puppeteer-core) against known data,
// documents full of HTML and script included: search, paging, exports, a prediction, verification,
// a model, the audit trails and a KQL error, with nothing injected running and no request leaving
// the server. Screenshots are kept as test artifacts.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <iostream>

#include "server_process.h"
#include "test_client.h"
#include "verity/app/http_client.h"

namespace verity::testing {
namespace {

namespace fs = std::filesystem;

const char* const kReadToken = "auditor-token-0123456789";
const char* const kAdminToken = "admin-token-0123456789";

std::string config() {
  return std::string(R"(auth:
  tokens:
    - {name: auditor, token: ")") +
         kReadToken + R"(", roles: [read]}
    - {name: admin, token: ")" +
         kAdminToken + R"(", roles: [admin]}
search:
  max_limit: 50  # an export of the 181 matches takes four requests through the cursor
masking:
  redact_token: "<b>REDACTED</b>"
  rules:
    - {path: "**/ssn", action: redact}
    - {path: /inputs/account, action: partial, keep_last: 4}
)";
}

fs::path artifacts_dir() {
  const char* env = std::getenv("VERITY_TEST_ARTIFACTS");
  fs::path dir =
      env != nullptr && *env != '\0' ? fs::path(env) : fs::current_path() / "test-artifacts";
  fs::create_directories(dir);
  return dir;
}

Result<app::HttpClientResponse> call(const std::string& method, const std::string& url,
                                     const std::string& body, const char* token) {
  return app::http_request(method, url, body, {std::string("Authorization: Bearer ") + token},
                           60'000);
}

void post(const ServerProcess& s, const std::string& path, const std::vector<std::string>& lines) {
  std::string body;
  for (const auto& l : lines) body += l + "\n";
  auto r = call("POST", s.http_url() + path, body, kAdminToken);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_NE(r->body.find("\"rejected\":0"), std::string::npos) << r->body;
}

// 240 predictions of model "fraud" over the last 36 hours (versions v1, v2) with explanations,
// personal data the masker hashes, redacts and partly hides; labels for most, corrections for
// some; and documents whose ids, keys and values are HTML, script and javascript: URLs (one of
// model "fraud" that the search finds, and one of a model named like a tag).
struct Data {
  std::vector<std::string> predictions, labels, corrections;
};
Data generate() {
  Data d;
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  for (int i = 0; i < 240; ++i) {
    const std::string id = "c-" + std::to_string(i);
    const int64_t ts = now - 36 * 3'600'000LL + i * 540'000LL;
    const bool fraud = i % 3 == 0;
    const double score = fraud ? 0.55 + (i % 40) / 100.0 : 0.05 + (i % 45) / 100.0;
    char buf[1024];
    std::snprintf(buf, sizeof buf,
                  R"({"request_id":"%s","timestamp":%lld,"model":{"name":"fraud","version":"%s"},)"
                  R"("inputs":{"region":"%s","amount":%d.5,"email":"user%d@example.com",)"
                  R"("ssn":"123-45-%04d","account":"ACCT-%08d"},)"
                  R"("prediction":{"label":"%s","score":%.2f},"confidence":%.2f,)"
                  R"("explanations":{"feature_importances":{"amount":%.3f,"region":%.3f,)"
                  R"("account_age":%.3f}}})",
                  id.c_str(), static_cast<long long>(ts), i % 2 ? "v2" : "v1", i % 4 ? "EU" : "US",
                  i * 7, i, i, 10'000'000 + i, fraud ? "fraud" : "legit", score,
                  fraud ? score : 1 - score, 0.1 + (i % 7) / 10.0, -0.05 * (i % 5), 0.02 * (i % 9));
    d.predictions.emplace_back(buf);
    if (i % 5 == 4) continue;
    const bool truth = i % 7 == 0 ? !fraud : fraud;
    std::snprintf(buf, sizeof buf, R"({"request_id":"%s","ground_truth":"%s","label_time":%lld})",
                  id.c_str(), truth ? "fraud" : "legit", static_cast<long long>(ts + 3'600'000));
    d.labels.emplace_back(buf);
    if (i % 10 == 0) {  // a correction: later, the other class
      std::snprintf(buf, sizeof buf, R"({"request_id":"%s","ground_truth":"%s","label_time":%lld})",
                    id.c_str(), truth ? "legit" : "fraud", static_cast<long long>(ts + 7'200'000));
      d.corrections.emplace_back(buf);
    }
  }
  const std::string ts = std::to_string(now - 3'600'000);
  d.predictions.push_back(
      R"({"request_id":"h-<img src=x onerror=window.__pwned=1></script><script>window.__pwned=2</script>",)"
      R"("timestamp":)" +
      ts +
      R"(,"model":{"name":"fraud","version":"v2"},"inputs":{"region":"EU",)"
      R"("<img src=x onerror=window.__pwned=5>":"</script><script>window.__pwned=6</script>",)"
      R"("link":"javascript:window.__pwned=7","html":"<a href=\"javascript:window.__pwned=8\">x</a>",)"
      R"("style":"<style>*{display:none}</style>","ssn":"<script>window.__pwned=9</script>"},)"
      R"("prediction":{"label":"fraud","score":0.5,"note":"<svg onload=window.__pwned=10>"},)"
      R"("confidence":0.5,)"
      R"("explanations":{"feature_importances":{"<img src=x onerror=window.__pwned=11>":0.9,)"
      R"("javascript:window.__pwned=12":-0.4}}})");
  d.labels.push_back(
      R"({"request_id":"h-<img src=x onerror=window.__pwned=1></script><script>window.__pwned=2</script>",)"
      R"("ground_truth":"legit","comment":"<img src=x onerror=window.__pwned=13>"})");
  d.predictions.push_back(
      R"({"request_id":"hm-1","timestamp":)" + ts +
      R"(,"model":{"name":"<img src=x onerror=window.__pwned=14>","version":"</script>"},)"
      R"("prediction":{"label":true}})");
  return d;
}

std::string header(const Result<app::HttpClientResponse>& r, const std::string& name) {
  return r.is_ok() ? std::string(r->header(name)) : "";
}

// The page is static and holds no data: served without credentials, with its policy, while the
// API behind it still asks for them (and a token-only server sends no Basic challenge, which
// would make a browser open its password prompt).
TEST(Console, IsServedWithoutCredentialsUnderItsPolicy) {
  TempDir dir;
  ServerProcess server(dir.path() / "data", config());
  server.start();
  const std::string u = server.http_url();
  auto page = app::http_get(u + "/ui/", 60'000);
  ASSERT_TRUE(page.is_ok()) << page.status().to_string();
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(header(page, "content-type"), "text/html; charset=utf-8");
  const std::string csp = header(page, "content-security-policy");
  EXPECT_EQ(csp.rfind("default-src 'none'; script-src 'sha256-", 0), 0u) << csp;
  EXPECT_NE(csp.find("connect-src 'self'"), std::string::npos);
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe"), std::string::npos);
  EXPECT_EQ(header(page, "x-content-type-options"), "nosniff");
  EXPECT_EQ(header(page, "referrer-policy"), "no-referrer");
  for (const char* remote : {"http://", "https://", " src=", "sourceMappingURL"}) {
    EXPECT_EQ(page->body.find(remote), std::string::npos) << remote;
  }
  // The configured redaction token reaches the page as attribute text.
  EXPECT_NE(page->body.find("content=\"&lt;b&gt;REDACTED&lt;/b&gt;\""), std::string::npos);
  EXPECT_EQ(app::http_get(u + "/ui/index.html", 60'000)->body, page->body);
  auto bare = app::http_get(u + "/ui", 60'000);
  EXPECT_EQ(bare->status, 301);
  EXPECT_EQ(header(bare, "location"), "/ui/");
  EXPECT_EQ(app::http_get(u + "/ui/other.js", 60'000)->status, 404);

  auto anonymous = app::http_get(u + "/v1/models", 60'000);
  EXPECT_EQ(anonymous->status, 401);
  EXPECT_EQ(header(anonymous, "www-authenticate"), "Bearer realm=\"verity\"");
  for (const auto& [k, v] : anonymous->headers) {
    EXPECT_FALSE(k == "www-authenticate" && v.starts_with("Basic")) << "no users: no Basic prompt";
  }
  EXPECT_EQ(call("GET", u + "/v1/models", "", kReadToken)->status, 200);
}

// With users (basic auth), a browser that asks without credentials gets a Basic challenge and
// prompts; a caller that sent a wrong bearer token is not sent one.
TEST(Console, BasicUsersGetTheBrowsersPrompt) {
  TempDir dir;
  ServerProcess server(dir.path() / "data", R"(auth:
  users:
    - {name: alice, password: "alice-password-0123", roles: [read]}
)");
  server.start();
  const std::string u = server.http_url();
  EXPECT_EQ(app::http_get(u + "/ui/", 60'000)->status, 200);
  auto anonymous = app::http_get(u + "/v1/models", 60'000);
  EXPECT_EQ(anonymous->status, 401);
  EXPECT_EQ(header(anonymous, "www-authenticate"), "Basic realm=\"verity\" charset=\"UTF-8\"");
  auto bearer = call("GET", u + "/v1/models", "", "wrong-token-0123456789");
  EXPECT_EQ(bearer->status, 401);
  EXPECT_EQ(header(bearer, "www-authenticate"), "Bearer realm=\"verity\"");
  auto basic =
      app::http_request("GET", u + "/v1/models", "",
                        {"Authorization: Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQtMDEyMw=="}, 60'000);
  EXPECT_EQ(basic->status, 200) << basic->body;
}

TEST(Console, WorksInARealBrowserAndRunsNothingFromTheDocuments) {
  ASSERT_TRUE(fs::exists("/usr/bin/chromium")) << "chromium is missing: run scripts/deps --test";
  ASSERT_TRUE(fs::exists(peers_dir() + "/node_modules/puppeteer-core"))
      << "the npm test peers are missing: run scripts/deps --test";
  TempDir dir;
  ServerProcess server(dir.path() / "data", config());
  server.start();
  const Data data = generate();
  post(server, "/v1/predictions", data.predictions);
  post(server, "/v1/labels", data.labels);
  post(server, "/v1/labels", data.corrections);
  // More than a page of the read trail (the console shows 50 entries a page).
  for (int i = 0; i < 60; ++i) {
    auto r =
        call("GET", server.http_url() + "/v1/predictions/c-" + std::to_string(i), "", kReadToken);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  // An entry in the admin trail.
  auto hold = call("POST", server.http_url() + "/v1/holds", R"({"model":"fraud"})", kAdminToken);
  ASSERT_EQ(hold->status, 200) << hold->body;

  const fs::path artifacts = artifacts_dir();
  for (const char* png :
       {"console-search.png", "console-prediction.png", "console-prediction-hostile.png",
        "console-model.png", "console-audit.png", "console-audit-admin.png",
        "console-kql-error.png"}) {
    fs::remove(artifacts / png);
  }
  const std::string hostile =
      "h-<img src=x onerror=window.__pwned=1></script><script>window.__pwned=2</script>";
  auto quote = [](const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  };
  auto run = run_command(
      "node " + peers_dir() + "/console_browser.js --url " + server.http_url() + " --read-token " +
      kReadToken + " --admin-token " + kAdminToken + " --model fraud --where " +
      quote("inputs.region:EU and confidence >= 0.3") + " --labelled c-10 --hostile " +
      quote(hostile) + " --artifacts " + artifacts.string() + " 2>&1");
  std::cout << run.output;
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("\"ok\":true"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("\"problems\":[]"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("\"label_history\":1"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("\"export_requests\":4"), std::string::npos) << run.output;
  for (const char* png :
       {"console-search.png", "console-prediction.png", "console-prediction-hostile.png",
        "console-model.png", "console-audit.png", "console-audit-admin.png",
        "console-kql-error.png"}) {
    EXPECT_TRUE(fs::exists(artifacts / png) && fs::file_size(artifacts / png) > 10'000) << png;
  }
  // The console's reads are in the read audit under the token's name, like any client's.
  auto trail = call("GET", server.http_url() + "/v1/audit?kind=read&actor=auditor&limit=10000", "",
                    kAdminToken);
  ASSERT_EQ(trail->status, 200);
  EXPECT_NE(trail->body.find("\"endpoint\":\"search\""), std::string::npos);
  EXPECT_NE(trail->body.find("\"endpoint\":\"get\""), std::string::npos);
  EXPECT_NE(trail->body.find("\"endpoint\":\"model_curves\""), std::string::npos);
}

}  // namespace
}  // namespace verity::testing
