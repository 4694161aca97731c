// Request ids as strangers send them, through the real binary: every id is stored, found, replayed
// and labelled under exactly the id that was sent, whatever a detector would make of it; a rule
// that hashes request ids on purpose still lets every lookup work; another serializer's whitespace
// is a duplicate, not a conflict.

#include <gtest/gtest.h>
#include <simdjson.h>

#include <fstream>
#include <random>
#include <set>

#include "generators.h"
#include "server_process.h"
#include "test_client.h"
#include "verity/app/http_client.h"
#include "verity/document/json_writer.h"

namespace verity::testing {
namespace {

std::string json_quoted(std::string_view s) {
  std::string out;
  document::append_json_string(out, s);
  return out;
}

std::string prediction_of(const std::string& id_json, bool spaced) {
  if (spaced) {
    return "{ \"request_id\" : " + id_json +
           " ,\t\"@timestamp\": \"2026-11-20T10:30:00Z\", \"model\": \"fraud\" , "
           "\"prediction\" : { \"label\" : \"ok\" , \"score\" : 0.5 } }";
  }
  return "{\"request_id\":" + id_json +
         R"(,"@timestamp":"2026-11-20T10:30:00Z","model":"fraud","prediction":{"label":"ok","score":0.5}})";
}

struct Counts {
  int stored = 0, duplicates = 0, dead_lettered = 0, rejected = 0;
};
Counts post(const ServerProcess& server, const std::string& path, const std::string& body) {
  auto r = app::http_request("POST", server.http_url() + path, body, {}, 60'000);
  EXPECT_TRUE(r.is_ok());
  Counts c;
  if (!r.is_ok()) return c;
  EXPECT_EQ(r->status, 200) << r->body;
  simdjson::dom::parser p;
  simdjson::dom::element e;
  if (p.parse(r->body).get(e)) return c;
  int64_t v = 0;
  if (!e["stored"].get_int64().get(v)) c.stored = static_cast<int>(v);
  if (!e["duplicates"].get_int64().get(v)) c.duplicates = static_cast<int>(v);
  if (!e["dead_lettered"].get_int64().get(v)) c.dead_lettered = static_cast<int>(v);
  if (!e["rejected"].get_int64().get(v)) c.rejected = static_cast<int>(v);
  return c;
}

TEST(Identity, EveryGeneratedIdIsFoundReplayedAndLabelledAsSent) {
  TempDir dir;
  ServerProcess server(dir.path() / "data");
  server.start();
  std::mt19937_64 rng(1129);
  std::vector<std::string> ids;
  std::set<std::string> seen;
  while (ids.size() < 400) {
    std::string id = generated_id(rng);
    if (id.find('/') != std::string::npos || !seen.insert(id).second) continue;  // paths: below
    ids.push_back(std::move(id));
  }
  std::string body, spaced, labels;
  for (const auto& id : ids) {
    body += prediction_of(json_quoted(id), false) + "\n";
    spaced += prediction_of(json_quoted(id), true) + "\n";
    labels += "{\"request_id\":" + json_quoted(id) + R"(,"ground_truth":"ok"})" + "\n";
  }
  // An integer id past 64 bits, and one that looks like a card number.
  body += prediction_of("123456789012345678901234567890", false) + "\n";
  body += prediction_of("4539578763621486", false) + "\n";
  const int n = static_cast<int>(ids.size());
  EXPECT_EQ(post(server, "/v1/predictions", body).stored, n + 2);
  for (const auto& id : ids) {
    auto got = app::http_get(server.http_url() + "/v1/predictions/" + app::url_encode_segment(id));
    ASSERT_TRUE(got.is_ok());
    ASSERT_EQ(got->status, 200) << id << ": " << got->body;
    simdjson::dom::parser p;
    std::string_view stored;
    ASSERT_EQ(p.parse(got->body)["request_id"].get_string().get(stored), simdjson::SUCCESS);
    EXPECT_EQ(stored, id);
  }
  for (const char* id : {"123456789012345678901234567890", "4539578763621486"}) {
    auto got = app::http_get(server.http_url() + "/v1/predictions/" + id);
    ASSERT_TRUE(got.is_ok());
    EXPECT_EQ(got->status, 200) << id;
  }
  // The same documents again, by another serializer (other whitespace): duplicates, no conflict.
  const Counts replay = post(server, "/v1/predictions", spaced);
  EXPECT_EQ(replay.duplicates, n);
  EXPECT_EQ(replay.dead_lettered, 0);
  // Labels sent later under the same ids all join.
  EXPECT_EQ(post(server, "/v1/labels", labels).stored, n);
  EXPECT_EQ(wait_for_metric(server.http_url(), "verity_labels_joined_total", n), n);
}

// A rule that hashes request ids on purpose: ids are stored as tokens, and every lookup, replay
// and label given the id as sent still finds its record.
TEST(Identity, ARuleThatHashesRequestIdsKeepsEveryLookupWorking) {
  TempDir dir;
  ServerProcess server(dir.path() / "data",
                       "masking:\n  rules:\n    - {path: /request_id, action: hash}\n");
  server.start();
  EXPECT_EQ(
      post(server, "/v1/predictions", prediction_of(json_quoted("u-42"), false) + "\n").stored, 1);
  auto got = app::http_get(server.http_url() + "/v1/predictions/u-42");
  ASSERT_TRUE(got.is_ok());
  ASSERT_EQ(got->status, 200) << got->body;
  EXPECT_NE(got->body.find(R"("request_id":"hmac:)"), std::string::npos) << got->body;
  EXPECT_EQ(got->body.find("u-42"), std::string::npos) << got->body;
  EXPECT_EQ(
      post(server, "/v1/predictions", prediction_of(json_quoted("u-42"), true) + "\n").duplicates,
      1);
  EXPECT_EQ(post(server, "/v1/labels",
                 R"({"request_id":"u-42","ground_truth":"ok"})"
                 "\n")
                .stored,
            1);
  EXPECT_EQ(wait_for_metric(server.http_url(), "verity_labels_joined_total", 1), 1);
  got = app::http_get(server.http_url() + "/v1/predictions/u-42");
  ASSERT_TRUE(got.is_ok());
  EXPECT_NE(got->body.find(R"("label":{)"), std::string::npos) << got->body;
}

TEST(Identity, ARuleThatWouldRewriteAnIdentityFieldIsRefusedAtStart) {
  TempDir dir;
  const auto config = dir.path() / "bad.yaml";
  {
    std::ofstream out(config);
    out << "masking:\n  rules:\n    - {path: /request_id, action: redact}\n"
           "    - {path: /model, action: hash}\n";
  }
  const std::string cmd = std::string(VERITY_BINARY) + " check-config -c " + config.string() +
                          " > " + (dir.path() / "out").string() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  EXPECT_NE(rc, 0);
  std::ifstream in(dir.path() / "out");
  const std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(out.find("the rule on /request_id would change request_id"), std::string::npos) << out;
  EXPECT_NE(out.find("the rule on /model would change model_name"), std::string::npos) << out;
}

}  // namespace
}  // namespace verity::testing
