// The audit store through the real binary: tiers and seals by the background manager, `verity
// verify` catching a record deleted behind Verity's back with RocksDB's own ldb, erasure, legal
// holds and retention, and the audit trail, all as an operator runs them.

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "server_process.h"
#include "test_client.h"
#include "verity/core/time_format.h"

namespace verity::testing {
namespace {

struct Run {
  int code;
  std::string output;
};

Run run(const std::string& args) {
  auto r = run_command(std::string(VERITY_BINARY) + " " + args);
  return {r.exit_code, std::move(r.output)};
}

constexpr int64_t kDayMs = 86'400'000;

EpochMillis days_ago(int days) {
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return now - days * kDayMs;
}

std::string partition_of(EpochMillis ts) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "p_%08u", utc_day(ts));
  return buf;
}

std::string predictions(const std::string& prefix, EpochMillis ts, int n, const std::string& model,
                        const std::string& user = "u-0") {
  std::string out;
  for (int i = 0; i < n; ++i) {
    out += R"({"request_id":")" + prefix + std::to_string(i) + R"(","@timestamp":")" +
           format_rfc3339(ts + i) + R"(","model":")" + model + R"(","user_id":")" + user +
           R"(","inputs":{"amount":)" + std::to_string(i % 300) +
           R"(},"prediction":{"label":"legit","score":0.25}})"
           "\n";
  }
  return out;
}

// Polls `verity partitions --json` until `done(output)` or 60 s pass; the last output.
std::string wait_for_partitions(const ServerProcess& server,
                                const std::function<bool(const std::string&)>& done,
                                const std::string& token = "") {
  std::string out;
  wait_until([&] {
    auto r = run("partitions --json --server " + server.http_url() +
                 (token.empty() ? "" : " --token " + token));
    out = r.output;
    return r.code == 0 && done(out);
  });
  return out;
}

bool has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

// The object of `partition` in `verity partitions --json` output ("" if absent).
std::string entry_of(const std::string& json, const std::string& partition) {
  const auto at = json.find("{\"partition\":\"" + partition + "\"");
  if (at == std::string::npos) return "";
  return json.substr(at, json.find('}', at) - at + 1);
}

TEST(AuditStore, TiersSealsAndVerifyCatchesARecordDeletedWithLdb) {
  TempDir dir;
  const auto data = dir.path() / "data";
  ServerProcess server(data, "store:\n  maintenance_interval: 1s\n");
  server.start();
  const EpochMillis cold = days_ago(40), warm = days_ago(10), hot = days_ago(0);
  send_ndjson(server.tcp(), predictions("c", cold, 300, "fraud") +
                                predictions("w", warm, 300, "fraud") +
                                predictions("h", hot, 50, "fraud"));
  ASSERT_EQ(
      wait_for_metric(server.http_url(), R"(verity_ingest_events_stored_total{input="tcp"})", 650),
      650);
  const std::string pc = partition_of(cold), pw = partition_of(warm);
  // A maintenance pass may seal the cold partition while its events are still arriving; the next
  // pass seals it again. Wait for a seal that covers all 300.
  auto parts = wait_for_partitions(server, [&](const std::string& o) {
    return has(o, "\"partition\":\"" + pc + "\",\"tier\":\"cold\"") &&
           has(o, "\"partition\":\"" + pw + "\",\"tier\":\"warm\"") &&
           has(entry_of(o, pc), "\"sealed\":true");
  });
  ASSERT_TRUE(has(parts, "\"partition\":\"" + pc + "\",\"tier\":\"cold\",\"records\":300"))
      << parts << server.log();
  EXPECT_TRUE(has(parts, "\"partition\":\"" + pw + "\",\"tier\":\"warm\",\"records\":300"));
  EXPECT_TRUE(has(entry_of(parts, pc), "\"sealed\":true,\"seals\":")) << parts;
  auto table = run("partitions --server " + server.http_url());
  EXPECT_EQ(table.code, 0);
  EXPECT_TRUE(has(table.output, "cold")) << table.output;
  EXPECT_TRUE(has(table.output, "sealed")) << table.output;
  EXPECT_EQ(scrape(server.http_url(), R"(verity_store_partitions{tier="cold"})"), 1);

  auto ok = run("verify --server " + server.http_url());
  EXPECT_EQ(ok.code, 0) << ok.output;
  EXPECT_TRUE(has(ok.output, "{\"ok\":true")) << ok.output;

  // Behind Verity's back: RocksDB's own tool deletes the 17th record of the cold partition.
  ASSERT_EQ(server.terminate(), 0);
  auto ldb = run_command("ldb --db=" + data.string() + " --column_family=" + pc +
                         " delete --key_hex 0x0000000000000011");
  ASSERT_EQ(ldb.exit_code, 0) << ldb.output;
  server.start();
  auto broken = run("verify --server " + server.http_url());
  EXPECT_EQ(broken.code, 1) << broken.output;
  EXPECT_TRUE(has(broken.output, "{\"ok\":false")) << broken.output;
  EXPECT_TRUE(has(broken.output, "\"partition\":\"" + pc +
                                     "\",\"records\":16,\"ok\":false,\"first_break\":{"
                                     "\"sequence\":17,\"reason\":\"the record at sequence 17 is "
                                     "missing"))
      << broken.output;
  auto other = run("verify --partition " + pw + " --server " + server.http_url());
  EXPECT_EQ(other.code, 0) << other.output;
}

TEST(AuditStore, EraseHoldsRetentionAndTheAuditTrail) {
  TempDir dir;
  ServerProcess server(
      dir.path() / "data",
      "store:\n  maintenance_interval: 1s\n  delete_after: 400d\n"
      "auth:\n  tokens:\n"
      "    - {name: dpo, token: dpo-secret-0123456789abcdef, roles: [admin]}\n"
      "    - {name: auditor, token: read-secret-0123456789abcdef, roles: [read]}\n"
      "    - {name: app, token: ingest-secret-0123456789abcdef, roles: [ingest]}\n");
  server.start();
  const std::string admin = " --token dpo-secret-0123456789abcdef --server " + server.http_url();
  const std::string reader = " --token read-secret-0123456789abcdef --server " + server.http_url();

  ASSERT_EQ(run("hold --model legacy" + admin).code, 0);
  auto denied = run("hold --model other" + reader);
  EXPECT_EQ(denied.code, 3);
  EXPECT_TRUE(has(denied.output, "403")) << denied.output;

  const EpochMillis held = days_ago(500), expired = days_ago(501), today = days_ago(0);
  send_ndjson(server.tcp(), predictions("held", held, 20, "legacy") +
                                predictions("old", expired, 20, "fraud") +
                                predictions("bob", today, 3, "fraud", "bob-7731") +
                                predictions("alice", today, 2, "fraud", "alice@example.com") +
                                predictions("carol", today, 4, "fraud", "carol-1"));
  // /metrics needs a token here: wait for the last line instead (one connection commits in order).
  wait_until([&] { return run("get carol3" + reader).code == 0; });
  // The expired partition goes; the one holding the held model stays.
  const std::string ph = partition_of(held), pe = partition_of(expired);
  const std::string read_token = "read-secret-0123456789abcdef";
  auto parts = wait_for_partitions(
      server, [&](const std::string& o) { return !has(o, pe) && has(o, ph); }, read_token);
  EXPECT_FALSE(has(parts, pe)) << parts << server.log();
  EXPECT_TRUE(has(parts, "\"holds\":[\"model:legacy\"]")) << parts;
  EXPECT_EQ(run("get old0" + reader).code, 1);
  EXPECT_EQ(run("get held0" + reader).code, 0);

  ASSERT_EQ(run("hold --model legacy --clear" + admin).code, 0);
  parts = wait_for_partitions(
      server, [&](const std::string& o) { return !has(o, ph); }, read_token);
  EXPECT_FALSE(has(parts, ph)) << parts;

  // Erasure, by the value as sent: stored as is (bob) and as an HMAC token (the email detector).
  for (const char* subject : {"bob-7731", "alice@example.com"}) {
    auto r = run(std::string("erase --subject ") + subject + admin);
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_TRUE(has(r.output, std::string("\"predictions\":") +
                                  (std::string(subject) == "bob-7731" ? "3" : "2")))
        << r.output;
  }
  auto got = run("get bob1" + reader);
  EXPECT_EQ(got.code, 0);
  EXPECT_TRUE(has(got.output, "\"erased\":true")) << got.output;
  EXPECT_FALSE(has(got.output, "bob-7731")) << got.output;
  EXPECT_TRUE(has(run("get carol1" + reader).output, "carol-1"));
  EXPECT_EQ(run("erase --subject carol-1" + reader).code, 3) << "erasure needs the admin role";
  // Verification recomputes every chain: an admin action, not a read.
  EXPECT_EQ(run("verify" + reader).code, 3);
  auto v = run("verify" + admin);
  EXPECT_EQ(v.code, 0) << v.output;

  auto audit = run("audit" + admin);
  EXPECT_EQ(audit.code, 0) << audit.output;
  std::vector<std::string> actions;
  for (size_t at = audit.output.find("\"action\":\""); at != std::string::npos;
       at = audit.output.find("\"action\":\"", at + 1)) {
    actions.push_back(audit.output.substr(at + 10, audit.output.find('"', at + 10) - at - 10));
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"hold_set", "retention_drop", "hold_cleared",
                                               "retention_drop", "erase", "erase"}))
      << audit.output;
  EXPECT_TRUE(has(audit.output, "\"actor\":\"dpo\"")) << audit.output;
  EXPECT_FALSE(has(audit.output, "bob-7731")) << "the audit trail never holds the subject";
  EXPECT_EQ(run("audit" + reader).code, 3);
}

// A subject sent with JSON escapes (Python's json.dumps writes "caf\u00e9" for "café"; "\/" is
// JSON's other spelling of "/") is stored as sent, and erased by its value all the same.
TEST(AuditStore, AnErasureFindsSubjectsSentWithJsonEscapes) {
  TempDir dir;
  ServerProcess server(dir.path() / "data");
  server.start();
  const std::string at = format_rfc3339(days_ago(0));
  std::string lines;
  const std::vector<std::pair<std::string, std::string>> sent = {
      {"py1", R"(caf\u00e9-9)"}, {"py2", R"(\u0063af\u00E9-9)"},
      {"raw", "café-9"},         {"sl1", R"(team\/a)"},
      {"sl2", "team/a"},         {"other", "cafe-9"}};
  for (const auto& [id, user] : sent) {
    lines += R"({"request_id":")" + id + R"(","@timestamp":")" + at +
             R"(","model":"m","user_id":")" + user + R"(","prediction":{"label":"x"}})" + "\n";
  }
  send_ndjson(server.tcp(), lines);
  const std::string srv = " --server " + server.http_url();
  wait_until([&] { return run("get other" + srv).code == 0; });
  auto r = run("erase --subject café-9" + srv);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "\"predictions\":3")) << r.output;
  r = run("erase --subject team/a" + srv);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "\"predictions\":2")) << r.output;
  for (const char* id : {"py1", "py2", "raw", "sl1", "sl2"}) {
    const auto got = run(std::string("get ") + id + srv);
    EXPECT_TRUE(has(got.output, "\"erased\":true")) << id << ": " << got.output;
  }
  EXPECT_TRUE(has(run("get other" + srv).output, "cafe-9"));
}

}  // namespace
}  // namespace verity::testing
