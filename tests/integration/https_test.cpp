// The HTTP API over TLS (http.tls), with the real binary, curl and the CLI's --cacert; and the
// refusal to expose a plaintext HTTP listener beyond loopback.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "server_process.h"
#include "test_client.h"
#include "wait.h"

namespace verity::testing {
namespace {

std::string https_url(const ServerProcess& s) { return "https://" + s.http().to_string(); }

TEST(Https, TheApiAnswersOverTlsToClientsThatTrustItsCa) {
  TempDir dir;
  ASSERT_TRUE(make_test_certificates(dir.path()));
  const std::string d = dir.path().string();
  ServerProcess server(dir.path() / "data", "http: {tls: {enabled: true, cert_file: " + d +
                                                "/server.pem, key_file: " + d + "/server.key}}");
  server.start();
  const std::string url = https_url(server);
  const std::string ca = " --cacert " + d + "/ca.pem";

  // Ingest and read back over https with curl.
  const std::string body = prediction_line("tls-1") + "\n";
  std::ofstream(dir.path() / "p.ndjson") << body;
  auto posted = run_command("curl -sS" + ca + " -XPOST --data-binary @" + d + "/p.ndjson " + url +
                            "/v1/predictions");
  ASSERT_EQ(posted.exit_code, 0) << posted.output;
  EXPECT_NE(posted.output.find("\"stored\":1"), std::string::npos) << posted.output;
  auto got = run_command("curl -sS" + ca + " " + url + "/v1/predictions/tls-1");
  ASSERT_EQ(got.exit_code, 0) << got.output;
  EXPECT_NE(got.output.find("\"request_id\":\"tls-1\""), std::string::npos) << got.output;

  // The CLI with --cacert: get and search.
  auto cli = run_command(std::string(VERITY_BINARY) + " get tls-1 --server " + url + ca);
  EXPECT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_NE(cli.output.find("\"request_id\":\"tls-1\""), std::string::npos) << cli.output;
  auto search = run_command(std::string(VERITY_BINARY) + " search --model fraud --server " + url +
                            ca + " 'request_id:tls-1' --fields request_id");
  EXPECT_EQ(search.exit_code, 0) << search.output;
  EXPECT_NE(search.output.find("{\"request_id\":\"tls-1\"}"), std::string::npos) << search.output;

  // A client that does not trust the CA is refused; plain HTTP on the TLS port gets no answer.
  auto untrusted = run_command(std::string(VERITY_BINARY) + " get tls-1 --server " + url);
  EXPECT_EQ(untrusted.exit_code, 3) << untrusted.output;
  auto plain = run_command("curl -sS --max-time 10 http://" + server.http().to_string() +
                           "/v1/predictions/tls-1");
  EXPECT_NE(plain.exit_code, 0) << plain.output;
  EXPECT_EQ(plain.output.find("\"request_id\""), std::string::npos) << plain.output;
  // The server goes on answering after those failed handshakes.
  got = run_command("curl -sS" + ca + " " + url + "/healthz");
  EXPECT_EQ(got.exit_code, 0) << got.output;
}

TEST(Https, ClientCertificatesAreRequiredWhenVerifyClientIsOn) {
  TempDir dir;
  ASSERT_TRUE(make_test_certificates(dir.path()));
  const std::string d = dir.path().string();
  ServerProcess server(dir.path() / "data",
                       "http: {tls: {enabled: true, cert_file: " + d + "/server.pem, key_file: " +
                           d + "/server.key, ca_file: " + d + "/ca.pem, verify_client: true}}");
  server.start();
  const std::string url = https_url(server) + "/healthz";
  const std::string ca = " --cacert " + d + "/ca.pem";
  auto with_cert = run_command("curl -sS" + ca + " --cert " + d + "/client.pem --key " + d +
                               "/client.key " + url);
  EXPECT_EQ(with_cert.exit_code, 0) << with_cert.output;
  auto without = run_command("curl -sS --max-time 10" + ca + " " + url);
  EXPECT_NE(without.exit_code, 0) << without.output;
  auto rogue = run_command("curl -sS --max-time 10" + ca + " --cert " + d + "/rogue.pem --key " +
                           d + "/rogue.key " + url);
  EXPECT_NE(rogue.exit_code, 0) << rogue.output;
}

// Credentials would cross the network in clear text: serve refuses a non-loopback HTTP listener
// without TLS, unless the config says a TLS proxy stands in front.
TEST(Https, ServeRefusesAPlaintextNonLoopbackHttpListener) {
  TempDir dir;
  const auto config = dir.path() / "auth.yaml";
  std::ofstream(config) << "auth:\n  tokens: [{name: auditor, token: "
                           "\"auditor-secret-0123456789\", roles: [read]}]\n";
  const std::string serve = std::string(VERITY_BINARY) + " serve --config " + config.string() +
                            " --data-dir " + (dir.path() / "d").string() +
                            " --http-listen 0.0.0.0:0 --tcp-listen 127.0.0.1:0"
                            " --beats-listen 127.0.0.1:0";
  auto r = run_command(serve);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("http.listen 0.0.0.0:0 is not a loopback address and credentials would "
                          "cross the network in clear text: enable http.tls"),
            std::string::npos)
      << r.output;
  // A broken TLS setup is refused naming the key, before anything listens.
  std::ofstream(config, std::ios::app)
      << "http: {tls: {enabled: true, cert_file: /nonexistent.pem, key_file: /nonexistent.key}}\n";
  r = run_command(serve);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("http.tls.cert_file /nonexistent.pem"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace verity::testing

namespace verity::testing {
namespace {

// A raw value searched by its masked form (`~"..."`) matches the stored token, and never reaches
// the read audit trail: the trail keeps the token.
TEST(SearchAudit, ARawValueSearchedByItsMaskedFormNeverReachesTheTrail) {
  TempDir dir;
  ServerProcess server(dir.path() / "data", "masking: {rules: [{path: /user_id, action: hash}]}");
  server.start();
  send_ndjson(server.tcp(),
              R"({"request_id":"m-1","@timestamp":"2026-11-20T10:30:00Z","model_name":"fraud",)"
              R"("user_id":"u-4242","prediction":{"label":"ok"}})"
              "\n");
  const std::string search = std::string(VERITY_BINARY) + " search --server " + server.http_url() +
                             " --model fraud --fields request_id,user_id ";
  CommandResult found;
  // The TCP input commits asynchronously: the project's one polling helper, with a deadline.
  wait_until(
      [&] {
        found = run_command(search + "'user_id:~\"u-4242\"'");
        return found.output.find("m-1") != std::string::npos;
      },
      std::chrono::seconds(10));
  EXPECT_EQ(found.exit_code, 0) << found.output;
  EXPECT_NE(found.output.find("{\"request_id\":\"m-1\",\"user_id\":\"hmac:"), std::string::npos)
      << found.output;
  auto trail =
      run_command(std::string(VERITY_BINARY) + " audit --reads --server " + server.http_url());
  EXPECT_EQ(trail.exit_code, 0) << trail.output;
  EXPECT_NE(trail.output.find("user_id:\\\"hmac:"), std::string::npos) << trail.output;
  EXPECT_EQ(trail.output.find("u-4242"), std::string::npos) << trail.output;
  // The raw value as a plain term does not match what is stored.
  auto raw = run_command(search + "'user_id:\"u-4242\"'");
  EXPECT_EQ(raw.exit_code, 0) << raw.output;
  EXPECT_EQ(raw.output.find("\"request_id\":\"m-1\""), std::string::npos) << raw.output;
}

}  // namespace
}  // namespace verity::testing
