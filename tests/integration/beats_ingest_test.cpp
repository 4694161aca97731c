// The Beats (Lumberjack v2) input against the real binary: the npm lumberjack-client package as
// the peer for compressed windows (driven by tests/peers/beats_driver.js, which also reads ACKs
// and resends unacknowledged windows as Filebeat does), and hand-made frames for plain windows,
// pipelining, protocol errors and limits.

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <future>
#include <regex>
#include <thread>

#include "raw_rocksdb.h"
#include "server_process.h"
#include "test_client.h"
#include "verity/app/http_client.h"

namespace verity::testing {
namespace {

using namespace std::chrono_literals;

const std::string kStored = R"(verity_ingest_events_stored_total{input="beats"})";
const std::string kReceived = R"(verity_ingest_events_received_total{input="beats"})";

std::string protocol_errors(const std::string& reason) {
  return R"(verity_ingest_protocol_errors_total{input="beats",reason=")" + reason + "\"}";
}

std::string driver(const ServerProcess& s, const std::string& flags) {
  return "node " + peers_dir() + "/beats_driver.js --port " + std::to_string(s.beats().port) + " " +
         flags;
}

// Counts the prediction records in every partition by opening the stopped store with RocksDB.
size_t count_records(const std::filesystem::path& data) {
  std::vector<std::string> families;
  EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::Options(), data.string(), &families).ok());
  const auto descriptors = verity::test::raw_descriptors(families);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  EXPECT_TRUE(
      rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), data.string(), descriptors, &handles, &db)
          .ok());
  size_t n = 0;
  for (auto* h : handles) {
    if (h->GetName().rfind("p_", 0) != 0) continue;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), h));
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  }
  for (auto* h : handles) (void)db->DestroyColumnFamilyHandle(h);
  delete db;
  return n;
}

TEST(BeatsIngest, LumberjackClientCompressedAndPlainWindowsOverManyConnections) {
  TempDir dir;
  ServerProcess server(dir.path() / "data");
  server.start();
  auto compressed = run_command(driver(server, "--events 3000 --window 250 --connections 6"));
  ASSERT_EQ(compressed.exit_code, 0) << compressed.output << server.log();
  EXPECT_EQ(compressed.output, R"({"windows":12,"events":3000,"resends":0,"acks_ok":true})"
                               "\n");
  auto plain =
      run_command(driver(server, "--events 1000 --window 100 --connections 2 --plain --prefix pl"));
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  // Every window was acknowledged only after its events were committed: all are readable now.
  EXPECT_EQ(scrape(server.http_url(), kStored), 4000);
  for (const char* id : {"beat-0", "beat-2999", "beat-1234", "pl-0", "pl-999"}) {
    auto got = app::http_get(server.http_url() + "/v1/predictions/" + id);
    ASSERT_EQ(got->status, 200) << id;
    EXPECT_NE(got->body.find(R"("input":"beats")"), std::string::npos);
  }
  // An envelope's metadata is kept beside the document; the message became the document.
  auto wrapped = app::http_get(server.http_url() + "/v1/predictions/beat-0")->body;
  EXPECT_NE(wrapped.find(R"("source":{"@metadata.beat":"filebeat")"), std::string::npos) << wrapped;
  EXPECT_NE(wrapped.find(R"("log.file.path":"/var/log/model/predictions.log")"), std::string::npos);
  EXPECT_NE(wrapped.find(R"("document":{"request_id":"beat-0")"), std::string::npos) << wrapped;
  EXPECT_EQ(wrapped.find("user0@example.com"), std::string::npos) << "masked";
  // Every 4th event was sent unwrapped: no source metadata.
  auto bare = app::http_get(server.http_url() + "/v1/predictions/beat-3")->body;
  EXPECT_EQ(bare.find(R"("source")"), std::string::npos) << bare;
}

TEST(BeatsIngest, LargeWindowsArePipelinedAndAcknowledgedInOrder) {
  TempDir dir;
  ServerProcess server(dir.path() / "data");
  server.start();
  // The package concatenates a window's frames one Buffer.concat at a time (quadratic), so its
  // largest practical window is a few thousand events; larger ones are built here.
  auto big = run_command(driver(server, "--events 4000 --window 4000 --prefix big"));
  ASSERT_EQ(big.exit_code, 0) << big.output;
  {
    TcpClient c(server.beats());
    std::vector<std::string> events;
    for (int i = 0; i < 20000; ++i) events.push_back(prediction_line("huge-" + std::to_string(i)));
    c.send(lj_window_of(events, true));
    EXPECT_EQ(read_ack(c, 60s), 20000u);
  }
  // Two windows sent back to back before any ACK (pipelining, as Filebeat does by default).
  TcpClient c(server.beats());
  std::vector<std::string> first, second;
  for (int i = 0; i < 300; ++i) first.push_back(prediction_line("w1-" + std::to_string(i)));
  for (int i = 0; i < 5; ++i) second.push_back(prediction_line("w2-" + std::to_string(i)));
  c.send(lj_window_of(first, true) + lj_window_of(second, false));
  EXPECT_EQ(read_ack(c, 30s), 300u);
  EXPECT_EQ(read_ack(c, 30s), 5u);
  EXPECT_EQ(scrape(server.http_url(), kStored), 24305);
}

TEST(BeatsIngest, BadEventsAreRejectedAloneAndTheirWindowIsStillAcknowledged) {
  TempDir dir;
  ServerProcess server(dir.path() / "data", "inputs: {beats: {max_event: 4KiB}}");
  server.start();
  TcpClient c(server.beats());
  // Good events around an invalid one and one over max_event (its bytes are skipped).
  std::string frames = lj_window(4) + lj_json(1, prediction_line("ok-1")) +
                       lj_json(2, "{not json") + lj_json(3, std::string(10000, 'x')) +
                       lj_json(4, prediction_line("ok-2"));
  c.send(frames);
  EXPECT_EQ(read_ack(c, 30s), 4u);
  EXPECT_EQ(scrape(server.http_url(), kStored), 2);
  EXPECT_EQ(scrape(server.http_url(),
                   R"(verity_ingest_events_rejected_total{input="beats",reason="invalid_json"})"),
            1);
  EXPECT_EQ(scrape(server.http_url(),
                   R"(verity_ingest_events_rejected_total{input="beats",reason="line_too_long"})"),
            1);
  EXPECT_EQ(scrape(server.http_url(), kReceived), 4);
}

// Each violation closes only its own connection, is logged and counted; another connection keeps
// working.
TEST(BeatsIngest, ProtocolErrorsAndLimitsCloseOnlyThatConnection) {
  TempDir dir;
  ServerProcess server(dir.path() / "data",
                       "inputs: {beats: {max_window: 1000, max_frame: 64KiB, max_inflated: 1MiB}}");
  server.start();
  TcpClient healthy(server.beats());
  auto expect_closed = [&](const std::string& bytes, const std::string& reason) {
    TcpClient c(server.beats());
    c.send(bytes);
    EXPECT_TRUE(c.closed_by_server(10s)) << reason;
    EXPECT_EQ(wait_for_metric(server.http_url(), protocol_errors(reason), 1, 10s), 1) << reason;
  };
  expect_closed("GET / HTTP/1.1\r\n\r\n", "protocol_error");  // not Lumberjack at all
  expect_closed(lj_window(2000), "window_too_large");         // over max_window
  expect_closed("2C" + std::string("\x00\x10\x00\x00", 4), "frame_too_large");  // 1 MiB > 64 KiB
  // A zlib bomb: 64 MiB of JSON-ish zeros in ~64 KiB, far past max_inflated.
  std::string bomb_frames = lj_json(1, std::string(64u << 20, '0'));
  expect_closed(lj_window(1) + lj_compressed(bomb_frames), "inflate_limit");
  // Data outside a window, a window before the previous one completed, nested compression.
  TcpClient a(server.beats());
  a.send(lj_json(1, prediction_line("orphan")));
  EXPECT_TRUE(a.closed_by_server(10s));
  TcpClient b(server.beats());
  b.send(lj_window(2) + lj_json(1, prediction_line("half")) + lj_window(1));
  EXPECT_TRUE(b.closed_by_server(10s));
  EXPECT_EQ(wait_for_metric(server.http_url(), protocol_errors("protocol_error"), 3, 10s), 3);
  // The good event read before the violation was still stored (never lost with its neighbours).
  EXPECT_EQ(wait_for_metric(server.http_url(), kStored, 1, 10s), 1);
  EXPECT_EQ(app::http_get(server.http_url() + "/v1/predictions/half")->status, 200);
  healthy.send(lj_window_of({prediction_line("still-fine")}, true));
  EXPECT_EQ(read_ack(healthy, 30s), 1u);
  EXPECT_NE(server.log().find("beats input: closing connection"), std::string::npos);
}

// Filebeat keeps unacknowledged windows and resends them after reconnecting; kill -9 the server
// in the middle of the stream: afterwards every event is stored exactly once.
TEST(BeatsIngest, KillNineMidWindowThenResendStoresEveryEventExactlyOnce) {
  TempDir dir;
  const auto data = dir.path() / "data";
  ServerProcess server(data);
  server.start();
  constexpr int kEvents = 30000;
  auto sender = std::async(std::launch::async, [&] {
    return run_command(driver(server, "--events " + std::to_string(kEvents) +
                                          " --window 500 --connections 3 --resend "
                                          "--timeout-ms 240000"));
  });
  // Kill once a good share (but not all) of the stream is in.
  const double share =
      wait_for_at_least(server.http_url(), kStored, kEvents / 4, std::chrono::seconds(120));
  ASSERT_GE(share, kEvents / 4) << server.log();
  server.kill9();
  server.start();  // the clients retry until it is back
  const auto result = sender.get();
  ASSERT_EQ(result.exit_code, 0) << result.output << server.log();
  EXPECT_NE(result.output.find(R"("events":30000)"), std::string::npos) << result.output;
  // The kill cut windows off before their ACK: the client sent them again.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(result.output, m, std::regex(R"("resends":([0-9]+))")));
  EXPECT_GT(std::stoi(m[1]), 0) << result.output;
  ASSERT_EQ(server.terminate(), 0);
  EXPECT_EQ(count_records(data), static_cast<size_t>(kEvents));
  server.start();
  for (int i = 0; i < kEvents; i += 997) {
    EXPECT_EQ(
        app::http_get(server.http_url() + "/v1/predictions/beat-" + std::to_string(i))->status, 200)
        << i;
  }
}

TEST(BeatsIngest, TlsWithClientCertificates) {
  TempDir dir;
  ASSERT_TRUE(make_test_certificates(dir.path()));
  const std::string d = dir.path().string();
  ServerProcess server(dir.path() / "data",
                       "inputs: {beats: {tls: {enabled: true, cert_file: " + d +
                           "/server.pem, key_file: " + d + "/server.key, ca_file: " + d +
                           "/ca.pem, verify_client: true}}}");
  server.start();
  const std::string ca = " --tls-ca " + d + "/ca.pem";
  auto ok =
      run_command(driver(server, "--events 300 --window 100 --prefix tls" + ca + " --tls-cert " +
                                     d + "/client.pem --tls-key " + d + "/client.key"));
  ASSERT_EQ(ok.exit_code, 0) << ok.output << server.log();
  EXPECT_EQ(scrape(server.http_url(), kStored), 300);
  // A certificate the CA did not sign, and no certificate at all, are refused at the handshake.
  auto rogue = run_command(driver(server, "--events 1 --window 1 --prefix rogue" + ca +
                                              " --tls-cert " + d + "/rogue.pem --tls-key " + d +
                                              "/rogue.key --timeout-ms 20000"));
  EXPECT_NE(rogue.exit_code, 0) << rogue.output;
  auto anonymous =
      run_command(driver(server, "--events 1 --window 1 --prefix anon --timeout-ms 20000" + ca));
  EXPECT_NE(anonymous.exit_code, 0) << anonymous.output;
  EXPECT_GE(wait_for_metric(server.http_url(), protocol_errors("tls_handshake"), 2, 10s), 2);
  EXPECT_EQ(scrape(server.http_url(), kStored), 300);
  // Plain Lumberjack on a TLS port is a failed handshake too, not an event.
  TcpClient plain(server.beats());
  plain.send(lj_window_of({prediction_line("plain-on-tls")}, false));
  EXPECT_TRUE(plain.closed_by_server(10s));
  EXPECT_EQ(scrape(server.http_url(), kStored), 300);
}

}  // namespace
}  // namespace verity::testing
