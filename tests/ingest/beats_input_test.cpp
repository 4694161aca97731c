// The Beats input in-process, against a store whose disk is made to refuse writes: while a window
// waits for its commit the client gets ACK(0) keepalives, and the real ACK only once the events are
// committed.
#include "verity/ingest/beats_input.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <boost/asio.hpp>
#include <filesystem>
#include <thread>

#include "verity/store/store.h"

namespace verity::ingest {
namespace {

namespace asio = boost::asio;

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

TEST(BeatsInput, KeepaliveWhileTheCommitWaitsThenTheRealAck) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("verity_beats_input_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  SystemClock clock;
  prometheus::Registry registry;
  auto faults = std::make_shared<store::WriteFaults>();
  store::StoreOptions so;
  so.data_dir = dir.string();
  so.faults = faults;
  so.retry_interval = Duration(100);
  auto opened = store::Store::open(so, clock, registry);
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  auto store = std::move(opened).value();

  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  InputMetrics metrics(registry, "beats");
  BeatsInputOptions options;
  options.listen = HostPort{"127.0.0.1", 0};
  options.keepalive = Duration(1000);
  BeatsInput input(
      io, options,
      InputContext{*store, std::make_shared<const document::FieldMappingSet>(), clock, metrics});
  ASSERT_TRUE(input.start());

  faults->no_space = true;
  asio::io_context client_io;
  asio::ip::tcp::socket socket(client_io);
  socket.connect({asio::ip::make_address("127.0.0.1"), input.local_endpoint().port});
  const std::string event =
      R"({"request_id":"k1","timestamp":1,"model":"m","outputs":{"label":"ok"}})";
  const std::string frames =
      "2W" + be32(1) + "2J" + be32(1) + be32(static_cast<uint32_t>(event.size())) + event;
  asio::write(socket, asio::buffer(frames));

  auto read_ack = [&] {
    char buf[6];
    asio::read(socket, asio::buffer(buf));
    EXPECT_EQ(std::string(buf, 2), "2A");
    uint32_t seq = 0;
    for (int i = 2; i < 6; ++i) seq = (seq << 8) | static_cast<uint8_t>(buf[i]);
    return seq;
  };
  // The disk refuses writes: only keepalives arrive, about once a second.
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(read_ack(), 0u);
  EXPECT_EQ(read_ack(), 0u);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(900));
  EXPECT_FALSE(store->writable());
  // Space returns: the window is committed and acknowledged with its sequence.
  faults->no_space = false;
  uint32_t seq = 0;
  while ((seq = read_ack()) == 0) {
  }
  EXPECT_EQ(seq, 1u);
  auto got = store->get_prediction("k1");
  ASSERT_TRUE(got.is_ok());
  EXPECT_TRUE(got->has_value());

  socket.close();
  input.stop();
  store->stop();
  work.reset();
  io.stop();
  runner.join();
  store.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace verity::ingest
