// Raw secrets never reach disk or logs: documents holding known secrets (valid predictions, labels,
// invalid documents, unparseable lines) go in through every input: NDJSON over TCP, HTTP
// /v1/predictions, the Elasticsearch _bulk API and Beats (inside Filebeat envelopes whose other
// members carry secrets too), in values and in member names (keys); then every file under the data
// dir (raw bytes), every key and value read back through RocksDB itself, the answers of the API
// (the prediction, the model's report with its feature names, the Prometheus exposition with its
// feature labels) and the server log are searched. Zero hits allowed.

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "raw_rocksdb.h"
#include "server_process.h"
#include "test_client.h"
#include "verity/app/http_client.h"
#include "verity/core/http.h"
#include "verity/document/json_writer.h"

namespace verity::testing {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kSecrets = {
    "alice.secret@example.com",
    "4539578763621486",        // Luhn-valid Visa
    "5500-0000-0000-0004",     // Luhn-valid Mastercard with dashes
    "123-45-6789",             // SSN
    "+14155550123",            // phone
    "DE89370400440532013000",  // IBAN
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIn0.c2lnbmF0dXJlX29mX3RoZV90b2tlbg",
    "AKIAIOSFODNN7EXAMPLE",          // AWS access key id shape
    "203.0.113.77",                  // IPv4
    "2001:db8:85a3::8a2e:370:7334",  // IPv6
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(MaskingLeak, NoRawSecretAnywhere) {
  TempDir dir;
  const fs::path data = dir.path() / "data";
  ServerProcess server(data, "log: {level: debug}\nmetrics: {models: {refresh_interval: 200ms}}\n");
  server.start();
  std::string in;
  for (size_t i = 0; i < kSecrets.size(); ++i) {
    const std::string& s = kSecrets[i];
    const std::string id = "p" + std::to_string(i);
    // A prediction with the secret in a nested input, in free text, and in an array.
    in += R"({"request_id":")" + id +
          R"(","@timestamp":"2026-11-20T10:30:00Z","model_name":"fraud","inputs":{"contact":")" +
          s + R"(","notes":"customer said )" + s + R"( twice","history":[")" + s + R"("],")" + s +
          R"(":1,"card )" + s + R"(":{"nested key )" + s + R"(":true}},)" +
          R"("prediction":{"label":"ok"}})" + "\n";
    // A label carrying it.
    in += R"({"request_id":")" + id + R"(","ground_truth":"ok","comment":"verified )" + s +
          R"("})" + "\n";
    // A valid JSON document that fails validation (no request id): dead-lettered, masked.
    in +=
        R"({"@timestamp":"2026-11-20T10:30:00Z","model_name":"fraud","who":")" + s + R"("})" + "\n";
    // Unparseable: kept only as length and digest.
    in += R"({"request_id":"bad)" + std::to_string(i) + R"(","oops":")" + s + "\n";
  }
  // A card number sent as a JSON number.
  in +=
      R"({"request_id":"num","@timestamp":"2026-11-20T10:30:00Z","model_name":"fraud","inputs":{"pan":4539578763621486}})"
      "\n";
  send_ndjson(server.tcp(), in, 333);
  const double expected_stored = 2.0 * static_cast<double>(kSecrets.size()) + 1;
  ASSERT_EQ(wait_for_metric(server.http_url(), R"(verity_ingest_events_stored_total{input="tcp"})",
                            expected_stored),
            expected_stored)
      << server.log();

  // The same documents under other request ids through HTTP, _bulk and Beats.
  auto renamed = [&](const std::string& prefix) {
    return std::regex_replace(in, std::regex(R"("request_id":")"), R"("request_id":")" + prefix);
  };
  auto http = app::http_request("POST", server.http_url() + "/v1/predictions", renamed("h"));
  ASSERT_TRUE(http.is_ok());
  EXPECT_EQ(http->status, 200);
  std::string bulk;
  std::istringstream bulk_lines(renamed("b"));
  for (std::string line; std::getline(bulk_lines, line);) {
    bulk += R"({"create":{"_index":"logs"}})"
            "\n" +
            line + "\n";
  }
  std::vector<std::string> beats;
  std::istringstream beats_lines(renamed("f"));
  for (std::string line; std::getline(beats_lines, line);) {
    // A Filebeat envelope: the line as the message, and a secret in members that are not kept.
    std::string escaped;
    document::append_json_string(escaped, line);
    beats.push_back(R"({"@metadata":{"beat":"filebeat"},"host":{"name":"node-1"},"fields":)"
                    R"({"owner":")" +
                    kSecrets[beats.size() % kSecrets.size()] + R"("},"message":)" + escaped + "}");
  }
  auto es = app::http_request("POST", server.http_url() + "/_bulk", bulk);
  ASSERT_TRUE(es.is_ok());
  EXPECT_EQ(es->status, 200) << es->body;
  TcpClient beat(server.beats());
  beat.send(lj_window_of(beats, true));
  EXPECT_EQ(read_ack(beat, std::chrono::seconds(30)), beats.size());
  for (const char* input : {"http", "es_bulk", "beats"}) {
    EXPECT_EQ(scrape(server.http_url(),
                     std::string(R"(verity_ingest_events_stored_total{input=")") + input + "\"}"),
              expected_stored)
        << input;
  }
  ASSERT_EQ(
      wait_for_metric(server.http_url(),
                      R"(verity_ingest_events_rejected_total{input="tcp",reason="invalid_json"})",
                      static_cast<double>(kSecrets.size())),
      static_cast<double>(kSecrets.size()));
  // The stored documents are masked, and carry the policy version.
  auto got = app::http_get(server.http_url() + "/v1/predictions/p0");
  ASSERT_TRUE(got.is_ok());
  EXPECT_NE(got->body.find("hmac:"), std::string::npos) << got->body;
  EXPECT_NE(got->body.find(R"("masking_version":"mv1-)"), std::string::npos) << got->body;
  auto metrics = app::http_get(server.http_url() + "/metrics");
  EXPECT_NE(metrics->body.find(R"(verity_masked_values_total{by="detector:email",model="fraud"})"),
            std::string::npos);
  // The features of the model's report and its Prometheus gauges are named by the (masked) keys.
  std::string exposition;
  wait_until([&] {
    auto m = app::http_get(server.http_url() + "/metrics");
    exposition = m ? m->body : "";
    return exposition.find("verity_model_feature_null_ratio{") != std::string::npos;
  });
  EXPECT_NE(exposition.find("feature=\"hmac:"), std::string::npos);
  auto report = app::http_get(server.http_url() + "/v1/models/fraud/metrics?window=30d");
  ASSERT_TRUE(report.is_ok());
  EXPECT_NE(report->body.find("\"name\":\"hmac:"), std::string::npos) << report->body;
  for (const auto& answer : {got->body, exposition, report->body}) {
    for (const auto& secret : kSecrets) {
      EXPECT_EQ(answer.find(secret), std::string::npos) << secret << " in an API answer";
    }
  }
  ASSERT_EQ(server.terminate(), 0) << server.log();

  // 1. Raw bytes of every file: WAL, SST, MANIFEST, OPTIONS, LOG.
  size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(data)) {
    if (!entry.is_regular_file()) continue;
    ++files;
    const std::string bytes = read_file(entry.path());
    for (const auto& s : kSecrets) {
      EXPECT_EQ(bytes.find(s), std::string::npos) << s << " in " << entry.path();
    }
  }
  EXPECT_GT(files, 3u);

  // 2. Every key and value of every column family, read back through RocksDB.
  std::vector<std::string> families;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::Options(), data.string(), &families).ok());
  const auto descriptors = verity::test::raw_descriptors(families);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(
      rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), data.string(), descriptors, &handles, &db)
          .ok());
  size_t values = 0;
  for (auto* h : handles) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), h));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++values;
      const std::string kv = it->key().ToString() + "\n" + it->value().ToString();
      for (const auto& s : kSecrets) {
        EXPECT_EQ(kv.find(s), std::string::npos) << s << " in family " << h->GetName();
      }
    }
  }
  EXPECT_GT(values, 3 * kSecrets.size());
  for (auto* h : handles)
    (void)db->DestroyColumnFamilyHandle(h);  // read-only: cannot fail usefully
  delete db;

  // 3. The server log (at debug level).
  const std::string log = server.log();
  for (const auto& s : kSecrets) EXPECT_EQ(log.find(s), std::string::npos) << s << " in the log";
}

}  // namespace
}  // namespace verity::testing
