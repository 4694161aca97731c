// `verity kibana setup` as an operator runs it, against a fake Kibana that enforces the saved
// objects import API's rules (tests/support/fake_kibana.h); and that fake's rules themselves, so
// that a setup passing here would not pass only because the fake is lenient.

#include <gtest/gtest.h>
#include <simdjson.h>

#include <set>
#include <sstream>

#include "fake_kibana.h"
#include "test_client.h"
#include "verity/app/http_client.h"
#include "verity/shippers/http_client.h"
#include "verity/shippers/kibana_setup.h"

namespace verity::testing {
namespace {

CommandResult verity(const std::string& args) {
  return run_command(std::string(VERITY_BINARY) + " " + args + " 2>&1");
}

// The type:id of every object in the shipped file, in file order.
std::vector<std::string> shipped_keys() {
  std::vector<std::string> keys;
  std::istringstream in{std::string(shippers::kibana_saved_objects())};
  simdjson::dom::parser p;
  for (std::string line; std::getline(in, line);) {
    simdjson::dom::element e = p.parse(line);
    keys.push_back(std::string(e["type"].get_string().value()) + ":" +
                   std::string(e["id"].get_string().value()));
  }
  return keys;
}

TEST(KibanaSetup, ImportsEveryObjectThenUpdatesThemOnTheNextRun) {
  FakeKibana kibana;
  auto first = verity("kibana setup --kibana-url " + kibana.url());
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const auto keys = shipped_keys();
  ASSERT_GE(keys.size(), 8u);
  const auto stored = kibana.objects();
  EXPECT_EQ(stored.size(), keys.size());
  std::istringstream in{std::string(shippers::kibana_saved_objects())};
  size_t i = 0;
  for (std::string line; std::getline(in, line); ++i) {
    ASSERT_EQ(stored.count(keys[i]), 1u) << keys[i];
    EXPECT_EQ(stored.at(keys[i]), line) << "imported as shipped: " << keys[i];
    const std::string type = keys[i].substr(0, keys[i].find(':'));
    const std::string id = keys[i].substr(type.size() + 1);
    EXPECT_NE(first.output.find(type + " " + id + " ("), std::string::npos) << first.output;
  }
  EXPECT_NE(first.output.find("dashboard verity-model-quality ([Verity] Model quality): created"),
            std::string::npos)
      << first.output;
  EXPECT_EQ(first.output.find("updated"), std::string::npos) << first.output;

  auto again = verity("kibana setup --kibana-url " + kibana.url() + "/");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(again.output.find("created"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("dashboard verity-model-quality ([Verity] Model quality): updated"),
            std::string::npos)
      << again.output;
  EXPECT_EQ(kibana.objects(), stored);
  EXPECT_EQ(kibana.imports(), 2u);
}

TEST(KibanaSetup, ImportsIntoTheNamedSpaceOnly) {
  FakeKibana kibana;
  auto r = verity("kibana setup --kibana-url " + kibana.url() + " --space audit");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(kibana.objects("audit").size(), shipped_keys().size());
  EXPECT_TRUE(kibana.objects("default").empty());

  auto missing = verity("kibana setup --kibana-url " + kibana.url() + " --space nowhere");
  EXPECT_EQ(missing.exit_code, 3) << missing.output;
  EXPECT_NE(missing.output.find("HTTP 404"), std::string::npos) << missing.output;
  auto bad = verity("kibana setup --kibana-url " + kibana.url() + " --space 'Bad Space'");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--space"), std::string::npos) << bad.output;
  EXPECT_EQ(kibana.imports(), 1u);
}

TEST(KibanaSetup, SendsTheCredentialsKibanaAsksFor) {
  FakeKibana kibana;
  kibana.require_authorization(shippers::basic_authorization("elastic", "s3cret").substr(15));
  auto refused = verity("kibana setup --kibana-url " + kibana.url());
  EXPECT_EQ(refused.exit_code, 3) << refused.output;
  EXPECT_NE(refused.output.find("HTTP 401"), std::string::npos) << refused.output;
  auto ok =
      verity("kibana setup --kibana-url " + kibana.url() + " --username elastic --password s3cret");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  kibana.require_authorization("ApiKey aWQ6a2V5");
  ok = verity("kibana setup --kibana-url " + kibana.url() + " --api-key aWQ6a2V5");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_EQ(kibana.imports(), 2u);
}

TEST(KibanaSetup, SaysSoWhenKibanaCannotBeReachedOrTheUrlIsWrong) {
  uint16_t port;
  {
    FakeKibana gone;  // a port that was just free
    port = static_cast<uint16_t>(std::stoi(gone.url().substr(gone.url().rfind(':') + 1)));
  }
  auto r = verity("kibana setup --kibana-url http://127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("Kibana at http://127.0.0.1:"), std::string::npos) << r.output;
  r = verity("kibana setup --kibana-url kibana:5601");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--kibana-url"), std::string::npos) << r.output;
}

// Kibana's per-object errors reach the operator, each object named with Kibana's error type.
TEST(KibanaSetup, ReportsEachObjectKibanaRefused) {
  struct Refusing : shippers::HttpClient {
    Result<shippers::HttpAnswer> send(const shippers::HttpCall&) override {
      shippers::HttpAnswer a;
      a.status = 200;
      a.body =
          R"({"success":false,"successCount":0,)"
          R"("errors":[{"id":"verity-model-quality","type":"dashboard","meta":{"title":"[Verity] Model quality"},)"
          R"("error":{"type":"missing_references","references":[{"type":"index-pattern","id":"gone"}]}},)"
          R"({"id":"x","type":"canvas-workpad","meta":{"title":"W"},"error":{"type":"unsupported_type"}}]})";
      return a;
    }
  } refusing;
  shippers::KibanaOptions o;
  o.url = "http://kibana:5601";
  auto r = shippers::kibana_setup(o, &refusing);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("Kibana refused 2 saved object(s)"), std::string::npos);
  EXPECT_NE(r.status().message().find("dashboard verity-model-quality ([Verity] Model quality): "
                                      "missing_references index-pattern:gone"),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("canvas-workpad x (W): unsupported_type"), std::string::npos);

  struct Garbage : shippers::HttpClient {
    Result<shippers::HttpAnswer> send(const shippers::HttpCall&) override {
      shippers::HttpAnswer a;
      a.status = 200;
      a.body = "<html>login</html>";
      return a;
    }
  } garbage;
  r = shippers::kibana_setup(o, &garbage);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("not what its API documents"), std::string::npos);
}

// The fake's own rules, each proven with a request that breaks it.
std::string multipart(const std::string& ndjson, const std::string& filename = "x.ndjson") {
  return "--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + filename +
         "\"\r\nContent-Type: application/ndjson\r\n\r\n" + ndjson + "\r\n--b0undary--\r\n";
}

struct Posted {
  long status = 0;
  std::string body;
};

Posted post(const FakeKibana& k, const std::string& body,
            std::vector<std::string> headers = {"kbn-xsrf: x",
                                                "Content-Type: multipart/form-data; "
                                                "boundary=b0undary"},
            const std::string& query = "?overwrite=true") {
  auto r = app::http_request("POST", k.url() + "/api/saved_objects/_import" + query, body, headers);
  EXPECT_TRUE(r.is_ok());
  return r.is_ok() ? Posted{r->status, r->body} : Posted{};
}

const std::string kView =
    R"({"type":"index-pattern","id":"v","attributes":{"title":"logs-*"},"references":[]})";
const std::string kDash =
    R"({"type":"dashboard","id":"d","attributes":{"title":"D"},"references":[{"type":"index-pattern","id":"v","name":"p1:x"}]})";

TEST(FakeKibana, EnforcesTheImportApisRules) {
  FakeKibana k;
  EXPECT_EQ(
      post(k, multipart(kView), {"Content-Type: multipart/form-data; boundary=b0undary"}).status,
      400);  // no kbn-xsrf
  EXPECT_EQ(post(k, kView, {"kbn-xsrf: x", "Content-Type: application/json"}).status, 415);
  EXPECT_EQ(post(k, multipart(kView, "x.json")).status, 400);
  EXPECT_EQ(post(k, multipart(kView),
                 {"kbn-xsrf: x", "Content-Type: multipart/form-data; boundary=b0undary"},
                 "?overwrite=true&createNewCopies=true")
                .status,
            400);
  EXPECT_EQ(
      post(k, multipart(kView),
           {"kbn-xsrf: x", "Content-Type: multipart/form-data; boundary=b0undary"}, "?force=true")
          .status,
      400);
  auto dup = post(k, multipart(kView + "\n" + kView));
  EXPECT_EQ(dup.status, 400);
  EXPECT_NE(dup.body.find("Non-unique import objects detected: [index-pattern:v]"),
            std::string::npos);
  EXPECT_TRUE(k.objects().empty());

  // Per object: a missing data view, an unknown type, a version from the future.
  // Nothing imported: Kibana leaves successResults out, and setup still names each refusal.
  auto none = post(k, multipart(kDash));
  EXPECT_EQ(none.body.find("successResults"), std::string::npos) << none.body;
  EXPECT_NE(none.body.find(R"("success":false)"), std::string::npos) << none.body;

  auto partial = post(
      k,
      multipart(
          kDash + "\n" +
          R"({"type":"canvas-workpad","id":"w","attributes":{"title":"W"},"references":[]})" +
          "\n" +
          R"({"type":"search","id":"s","attributes":{"title":"S"},"references":[],"typeMigrationVersion":"9.1.0"})"));
  ASSERT_EQ(partial.status, 200) << partial.body;
  EXPECT_NE(partial.body.find(R"("success":false)"), std::string::npos) << partial.body;
  EXPECT_NE(partial.body.find(
                R"("type":"missing_references","references":[{"type":"index-pattern","id":"v"}])"),
            std::string::npos)
      << partial.body;
  EXPECT_NE(partial.body.find(R"("type":"unsupported_type")"), std::string::npos);
  EXPECT_NE(partial.body.find("more recent version of Kibana [9.1.0]"), std::string::npos);
  EXPECT_TRUE(k.objects().empty());

  // Together they import; again without overwrite is a conflict; a stored data view satisfies a
  // later dashboard's reference.
  auto ok = post(k, multipart(kView + "\n" + kDash + "\n"));
  EXPECT_NE(ok.body.find(R"("successCount":2,"success":true)"), std::string::npos) << ok.body;
  EXPECT_EQ(ok.body.find(R"("errors")"), std::string::npos) << ok.body;
  auto conflict = post(k, multipart(kDash),
                       {"kbn-xsrf: x", "Content-Type: multipart/form-data; boundary=b0undary"}, "");
  EXPECT_NE(conflict.body.find(R"("type":"conflict")"), std::string::npos) << conflict.body;
  auto later = post(k, multipart(kDash));
  EXPECT_NE(later.body.find(R"("overwrite":true)"), std::string::npos) << later.body;
  EXPECT_EQ(k.objects().size(), 2u);
}

}  // namespace
}  // namespace verity::testing
