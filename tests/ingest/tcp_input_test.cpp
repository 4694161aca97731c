// The TCP input in-process over a fake batch sink (no RocksDB): what reaches the sink, in what
// order, and that reading stops while the sink is backlogged.
#include "verity/ingest/tcp_input.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <boost/asio.hpp>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "verity/store/batch_sink.h"

namespace verity::ingest {
namespace {

namespace asio = boost::asio;

// Keeps every submitted batch; answers at once, or holds the answers while `hold` is set.
class FakeSink final : public store::BatchSink {
 public:
  store::PreparedBatch prepare(store::IngestBatch batch) const override {
    return store::PreparedBatch(std::move(batch));
  }
  void submit(store::PreparedBatch batch, store::CommitCallback done) override {
    store::CommitResult r;
    r.outcomes.assign(batch.batch().events.size(), store::EventOutcome::kStored);
    r.stored = static_cast<uint32_t>(batch.batch().events.size());
    {
      std::lock_guard lock(mu_);
      for (const Event& e : batch.batch().events) ids_.push_back(e.request_id);
      rejects_ += batch.batch().rejects.size();
      if (hold_) {
        held_.emplace_back(std::move(done), r);
        cv_.notify_all();
        return;
      }
    }
    cv_.notify_all();
    done(r);
  }
  bool backlogged() const override {
    const bool on = backlogged_.load();
    if (on) {
      std::lock_guard lock(mu_);
      ++told_to_wait_;
      cv_.notify_all();
    }
    return on;
  }
  bool writable() const override { return true; }

  void hold(bool on) {
    std::vector<std::pair<store::CommitCallback, store::CommitResult>> answers;
    {
      std::lock_guard lock(mu_);
      hold_ = on;
      if (!on) answers.swap(held_);
    }
    for (auto& [done, r] : answers) done(r);
  }
  void set_backlogged(bool on) { backlogged_ = on; }
  size_t events() const {
    std::lock_guard lock(mu_);
    return ids_.size();
  }
  bool wait_for(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return ids_.size() >= n; });
  }
  // Waits until an input has asked backlogged() and been told to wait.
  bool wait_until_told_to_wait() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return told_to_wait_ > 0; });
  }
  std::vector<std::string> ids() const {
    std::lock_guard lock(mu_);
    return ids_;
  }
  size_t rejects() const {
    std::lock_guard lock(mu_);
    return rejects_;
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  mutable size_t told_to_wait_ = 0;
  std::vector<std::string> ids_;
  size_t rejects_ = 0;
  bool hold_ = false;
  std::vector<std::pair<store::CommitCallback, store::CommitResult>> held_;
  std::atomic<bool> backlogged_{false};
};

// The rule every input follows (input.h): a stream connection pauses past max_in_flight, or
// holding anything while the store is backlogged; a request is refused while the store cannot
// write (503) before it is refused for a backlog (429).
TEST(Backpressure, StreamsPauseAndRequestsAreRefusedByTheSameRule) {
  class Sink final : public store::BatchSink {
   public:
    store::PreparedBatch prepare(store::IngestBatch batch) const override {
      return store::PreparedBatch(std::move(batch));
    }
    void submit(store::PreparedBatch, store::CommitCallback) override {}
    bool backlogged() const override { return backlogged_; }
    bool writable() const override { return writable_; }
    bool backlogged_ = false, writable_ = true;
  } sink;
  const Backpressure rule(sink, ByteSize{1000});
  for (bool backlogged : {false, true}) {
    for (bool writable : {true, false}) {
      sink.backlogged_ = backlogged;
      sink.writable_ = writable;
      EXPECT_FALSE(rule.pause_reading(0));  // an idle connection always reads
      EXPECT_EQ(rule.pause_reading(1), backlogged);
      EXPECT_EQ(rule.pause_reading(1000), backlogged);
      EXPECT_TRUE(rule.pause_reading(1001));
      EXPECT_EQ(rule.admit_request(), !writable    ? Backpressure::Verdict::kUnwritable
                                      : backlogged ? Backpressure::Verdict::kBacklogged
                                                   : Backpressure::Verdict::kAccept);
    }
  }
  // Requests have no in-flight bound of their own.
  sink.backlogged_ = false;
  sink.writable_ = true;
  EXPECT_FALSE(Backpressure(sink).pause_reading(size_t{1} << 40));
}

class TcpInputTest : public ::testing::Test {
 protected:
  void start(TcpInputOptions options) {
    options.listen = HostPort{"127.0.0.1", 0};
    input_ = std::make_unique<TcpInput>(
        io_, options,
        InputContext{sink_, std::make_shared<const document::FieldMappingSet>(), clock_, metrics_});
    ASSERT_TRUE(input_->start());
    for (int i = 0; i < 2; ++i) runners_.emplace_back([this] { io_.run(); });
  }
  void TearDown() override {
    sink_.hold(false);
    if (input_) input_->stop();
    work_.reset();
    io_.stop();
    for (auto& t : runners_) t.join();
  }
  static std::string line(int i) {
    return R"({"request_id":"r)" + std::to_string(i) +
           R"(","timestamp":1795000000000,"model":"m","outputs":{"label":"ok"},"pad":")" +
           std::string(static_cast<size_t>(i % 97), 'x') + "\"}\n";
  }

  FakeSink sink_;
  SystemClock clock_;
  prometheus::Registry registry_;
  InputMetrics metrics_{registry_, "tcp"};
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      asio::make_work_guard(io_)};
  std::vector<std::thread> runners_;
  std::unique_ptr<TcpInput> input_;
};

// Reads are decoded on both I/O threads, several at a time, and must still reach the sink in the
// order they were read: every line once, in the order sent, whatever the write sizes.
TEST_F(TcpInputTest, EveryLineReachesTheSinkOnceInOrder) {
  TcpInputOptions options;
  options.read_chunk = ByteSize{4096};  // many reads in flight at once
  start(options);
  std::string all;
  const int n = 20000;
  for (int i = 0; i < n; ++i) all += line(i);
  all += "{not json}\n";  // rejected, counted, the connection goes on
  all += line(n);
  asio::io_context client_io;
  asio::ip::tcp::socket socket(client_io);
  socket.connect({asio::ip::make_address("127.0.0.1"), input_->local_endpoint().port});
  for (size_t at = 0, step = 1; at < all.size(); at += step, step = step * 3 % 7919 + 1) {
    asio::write(socket, asio::buffer(all.data() + at, std::min(step, all.size() - at)));
  }
  ASSERT_TRUE(sink_.wait_for(n + 1));
  const auto ids = sink_.ids();
  ASSERT_EQ(ids.size(), static_cast<size_t>(n + 1));
  for (int i = 0; i <= n; ++i) ASSERT_EQ(ids[static_cast<size_t>(i)], "r" + std::to_string(i));
  EXPECT_EQ(sink_.rejects(), 1u);
}

// While the sink is backlogged and has not answered, the connection stops reading (TCP flow
// control pushes back on the client); once it drains, everything arrives, once, in order.
TEST_F(TcpInputTest, StopsReadingWhileTheSinkIsBackloggedThenDeliversEverything) {
  TcpInputOptions options;
  options.read_chunk = ByteSize{16384};
  start(options);
  sink_.hold(true);
  sink_.set_backlogged(true);
  const int n = 100000;  // ~10 MB: more than the socket buffers hold
  std::string all;
  for (int i = 0; i < n; ++i) all += line(i);
  asio::io_context client_io;
  asio::ip::tcp::socket socket(client_io);
  socket.connect({asio::ip::make_address("127.0.0.1"), input_->local_endpoint().port});
  std::thread writer([&] { asio::write(socket, asio::buffer(all)); });
  struct Join {  // on a failed assertion too: released, the input reads the rest and the write ends
    FakeSink& sink;
    std::thread& t;
    ~Join() {
      sink.set_backlogged(false);
      sink.hold(false);
      if (t.joinable()) t.join();
    }
  } join{sink_, writer};
  // The connection pauses once it has a batch unanswered and the sink says it is backlogged;
  // from then on it reads nothing until an answer comes (at most the reads already being decoded
  // still arrive).
  ASSERT_TRUE(sink_.wait_until_told_to_wait());
  const size_t while_backlogged = sink_.events();
  EXPECT_LT(while_backlogged, static_cast<size_t>(n) / 4);
  sink_.set_backlogged(false);
  sink_.hold(false);
  ASSERT_TRUE(sink_.wait_for(n));
  const auto ids = sink_.ids();
  ASSERT_EQ(ids.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) ASSERT_EQ(ids[static_cast<size_t>(i)], "r" + std::to_string(i));
}

}  // namespace
}  // namespace verity::ingest
