// The verity command line: check-config and get, as an operator runs them.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "server_process.h"
#include "test_client.h"

namespace verity::testing {
namespace {

struct Run {
  int code;
  std::string output;  // stdout and stderr
};

Run run(const std::string& args) {
  auto r = run_command(std::string(VERITY_BINARY) + " " + args);
  return {r.exit_code, std::move(r.output)};
}

TEST(Cli, CheckConfigAcceptsTheShippedConfig) {
  auto r = run("check-config --config " + std::string(VERITY_SOURCE_DIR) + "/config/verity.yaml");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find(": ok"), std::string::npos);
}

TEST(Cli, CheckConfigListsEveryProblemByKeyPath) {
  TempDir dir;
  const auto path = dir.path() / "bad.yaml";
  std::ofstream(path)
      << "store:\n  sync: maybe\ninputs:\n  tcp:\n    listen: nowhere\n    colour: red\n";
  auto r = run("check-config --config " + path.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("store.sync: must be one of: always, group, none"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("inputs.tcp.listen: expected host:port"), std::string::npos);
  EXPECT_NE(r.output.find("inputs.tcp.colour: unknown key"), std::string::npos);
  EXPECT_NE(r.output.find(path.string()), std::string::npos);
}

TEST(Cli, ServeRefusesABadConfigBeforeStarting) {
  TempDir dir;
  const auto path = dir.path() / "bad.yaml";
  std::ofstream(path) << "nonsense: true\n";
  auto r = run("serve --config " + path.string() + " --data-dir " + (dir.path() / "d").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("nonsense: unknown key"), std::string::npos) << r.output;
}

TEST(Cli, GetPrintsTheStoredDocumentOrExitsOneWhenAbsent) {
  TempDir dir;
  ServerProcess server(dir.path() / "data");
  server.start();
  send_ndjson(
      server.tcp(),
      R"({"request_id":"r1","@timestamp":"2026-11-20T10:30:00Z","model_name":"fraud","input_features":{"amount":12.5},"prediction":{"label":"fraud","score":0.91},"confidence":0.91})"
      "\n");
  ASSERT_EQ(
      wait_for_metric(server.http_url(), R"(verity_ingest_events_stored_total{input="tcp"})", 1),
      1);
  auto r = run("get r1 --server " + server.http_url());
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find(R"("partition":"p_20261120")"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(R"("sequence":1)"), std::string::npos);
  EXPECT_NE(r.output.find(R"("input_features":{"amount":12.5})"), std::string::npos);
  auto absent = run("get nope --server " + server.http_url());
  EXPECT_EQ(absent.code, 1);
  EXPECT_NE(absent.output.find("not_found"), std::string::npos);
  auto down = run("get r1 --server http://127.0.0.1:1");
  EXPECT_EQ(down.code, 3);
}

TEST(Cli, CheckConfigRejectsABadMaskingPolicy) {
  TempDir dir;
  const auto path = dir.path() / "masking.yaml";
  std::ofstream(path)
      << "masking:\n  custom_detectors:\n    - {name: broken, pattern: \"([a-z\"}\n";
  auto r = run("check-config --config " + path.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("custom detector 'broken': invalid pattern"), std::string::npos)
      << r.output;
  std::ofstream(path, std::ios::trunc) << "masking:\n  key_file: /nonexistent/verity.key\n";
  r = run("check-config --config " + path.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("masking.key_file: cannot read /nonexistent/verity.key"),
            std::string::npos)
      << r.output;
}

TEST(Cli, ServeCreatesAPrivateKeyOnceAndKeepsIt) {
  TempDir dir;
  ServerProcess server(dir.path() / "data");
  server.start();
  const auto key = dir.path() / "data" / "masking.key";
  ASSERT_TRUE(std::filesystem::exists(key));
  EXPECT_EQ(std::filesystem::status(key).permissions() & std::filesystem::perms::group_read,
            std::filesystem::perms::none);
  std::stringstream first;
  first << std::ifstream(key).rdbuf();
  server.kill9();
  server.start();
  std::stringstream second;
  second << std::ifstream(key).rdbuf();
  EXPECT_EQ(first.str(), second.str());  // the same key: tokens stay joinable across restarts
}

// A listener other hosts can reach must authenticate its clients: serve refuses to start otherwise,
// naming every offending key.
TEST(Cli, ServeRefusesUnauthenticatedNonLoopbackListeners) {
  TempDir dir;
  const std::string data = " --data-dir " + (dir.path() / "d").string();
  auto r = run("serve" + data +
               " --http-listen 0.0.0.0:0 --tcp-listen 0.0.0.0:0 --beats-listen 0.0.0.0:0");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("http.listen 0.0.0.0:0 is not a loopback address: configure auth"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("inputs.tcp.listen 0.0.0.0:0 is not a loopback address"),
            std::string::npos);
  EXPECT_NE(r.output.find("inputs.beats.listen 0.0.0.0:0 is not a loopback address"),
            std::string::npos);
}

TEST(Cli, SecretsAreNeverPrintedAndGetSendsItsToken) {
  TempDir dir;
  const auto path = dir.path() / "auth.yaml";
  std::ofstream(path) << "auth:\n  tokens: [{name: auditor, token: \"auditor-secret-0123456789\", "
                         "roles: [read]}]\n  users: [{name: fb, password: \"fb-password-0123\", "
                         "roles: [ingest]}]\n";
  auto printed = run("check-config --print --config " + path.string());
  EXPECT_EQ(printed.code, 0) << printed.output;
  EXPECT_NE(printed.output.find("name: auditor"), std::string::npos) << printed.output;
  EXPECT_EQ(printed.output.find("auditor-secret"), std::string::npos);
  EXPECT_EQ(printed.output.find("fb-password"), std::string::npos);

  std::string yaml;
  {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    yaml = ss.str();
  }
  ServerProcess server(dir.path() / "data", yaml);
  server.start();
  send_ndjson(server.tcp(), prediction_line("cli-auth") + "\n");
  auto denied = run("get cli-auth --server " + server.http_url());
  EXPECT_EQ(denied.code, 3) << denied.output;
  EXPECT_NE(denied.output.find("HTTP 401"), std::string::npos) << denied.output;
  auto ok =
      run("get cli-auth --server " + server.http_url() + " --token auditor-secret-0123456789");
  EXPECT_EQ(ok.code, 0) << ok.output;
  auto env = run_command("VERITY_TOKEN=auditor-secret-0123456789 " + std::string(VERITY_BINARY) +
                         " get cli-auth --server " + server.http_url());
  EXPECT_EQ(env.exit_code, 0) << env.output;
}

}  // namespace
}  // namespace verity::testing
