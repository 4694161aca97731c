#include "verity/ingest/tcp_input.h"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include "listener_util.h"

#include "verity/core/guard.h"
#include "verity/ingest/line_batcher.h"
#include "verity/ingest/ndjson_framer.h"
#include "verity/store/batch_sink.h"

namespace verity::ingest {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

class Connection;

}  // namespace

struct TcpInput::Impl : InputListener<TcpInputOptions, Connection>,
                        std::enable_shared_from_this<TcpInput::Impl> {
  using InputListener::InputListener;

  void accept();

  // Reads being decoded on the I/O pool, across connections: stop() waits for them to be submitted.
  std::mutex decoding_mu;
  std::condition_variable decoding_cv;
  size_t decoding = 0;  // guarded by decoding_mu
  void decoding_started() {
    std::lock_guard lock(decoding_mu);
    ++decoding;
  }
  void decoding_finished() {
    std::lock_guard lock(decoding_mu);
    if (--decoding == 0) decoding_cv.notify_all();
  }
};

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, TcpInput::Impl& input)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        input_(input),
        owner_(input.shared_from_this()),
        framer_(input.options.max_line.bytes, input.options.read_chunk.bytes, input.budget) {}

  void start() {
    input_.metrics.connection_opened();
    touch();
    read();
  }

  // Runs on the connection's strand.
  void stop() {
    if (closed_) return;
    close("server stopping");
  }

  asio::any_io_executor executor() { return socket_.get_executor(); }

 private:
  // Records activity; the idle timer re-arms itself from the last activity until the connection has
  // been silent (and has nothing uncommitted) for idle_timeout.
  void touch() {
    last_activity_ = std::chrono::steady_clock::now();
    if (!timer_armed_) arm_idle_timer(last_activity_ + input_.options.idle_timeout);
  }

  void arm_idle_timer(std::chrono::steady_clock::time_point when) {
    timer_armed_ = true;
    timer_.expires_at(when);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      self->timer_armed_ = false;
      if (ec || self->closed_) return;
      const auto deadline = self->last_activity_ + self->input_.options.idle_timeout;
      if (std::chrono::steady_clock::now() >= deadline && self->in_flight_ == 0) {
        self->close("idle timeout");
      } else {
        self->arm_idle_timer(
            std::max(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(100)));
      }
    });
  }

  bool should_pause() const {
    return input_.backpressure.pause_reading(in_flight_) || decoding_ >= kMaxDecoding;
  }

  void read() {
    if (closed_ || reading_) return;
    if (should_pause()) {
      paused_ = true;
      return;
    }
    auto area = framer_.write_area();
    if (area.empty()) {  // the inputs' memory budget is spent: stop reading, do not grow
      paused_ = true;
      retry_read_later();
      return;
    }
    paused_ = false;
    reading_ = true;
    socket_.async_read_some(asio::buffer(area.data(), area.size()),
                            [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                              self->on_read(ec, n);
                            });
  }

  void on_read(boost::system::error_code ec, size_t n) {
    reading_ = false;
    if (closed_) return;
    if (n > 0) {
      framer_.commit(n);
      input_.metrics.bytes(n);
      touch();
      framer_.drain([this](const FramedLine& line) { chunk_.add(line); });
    }
    if (ec == asio::error::eof) {
      framer_.finish([this](const FramedLine& line) { chunk_.add(line); });
      dispatch();
      close("");
      return;
    }
    if (ec) {
      dispatch();
      close(ec.message());
      return;
    }
    dispatch();
    framer_.trim();
    read();
  }

  // One read's complete lines, copied out of the framer so the framer reads on while they are
  // decoded, masked and prepared on any I/O thread (a single connection uses every core). Batches
  // are submitted in the order they were read, so the first of two documents under one request
  // id is the one stored, as when decoding was inline.
  struct Chunk {
    std::string bytes;  // the lines back to back, then kJsonPadding bytes
    struct Line {
      size_t offset = 0, size = 0;  // of its text in bytes (without a '\r' the framer left out)
      FramedLine meta;              // text not set
    };
    std::vector<Line> lines;
    void add(const FramedLine& line) {
      FramedLine meta = line;
      meta.text = {};
      lines.push_back({bytes.size(), line.text.size(), meta});
      bytes.append(line.text);
    }
  };

  void dispatch() {
    if (chunk_.lines.empty()) return;
    auto job = std::make_shared<Chunk>(std::move(chunk_));
    chunk_ = Chunk{};
    chunk_.bytes.reserve(job->bytes.capacity());
    job->bytes.append(kJsonPadding, '\0');
    const uint64_t seq = next_chunk_++;
    const size_t bytes = job->bytes.size();
    in_flight_ += bytes;
    ++decoding_;
    input_.decoding_started();
    // Counted against the inputs' memory budget until decoded (it exists: never refused).
    auto lease = std::make_shared<MemoryLease>(input_.budget);
    lease->force(bytes);
    asio::post(input_.io, [self = shared_from_this(), job, lease, seq, bytes]() mutable {
      store::PreparedBatch prepared;
      if (auto st = guarded("tcp input: decoding a read", [&] { prepared = self->decode(*job); });
          !st) {
        spdlog::error("{}", st.message());
      }
      job.reset();
      lease.reset();
      asio::post(self->socket_.get_executor(),
                 [self, seq, bytes,
                  p = std::make_shared<store::PreparedBatch>(std::move(prepared))]() mutable {
                   self->on_decoded(seq, std::move(*p), bytes);
                 });
    });
  }

  // Runs on an I/O thread, not the connection's strand.
  store::PreparedBatch decode(const Chunk& job) {
    auto batcher = input_.lend_batcher(DecoderLimits{input_.options.max_line.bytes, 64, 256},
                                       input_.options.max_dead_letters);
    for (const auto& line : job.lines) {
      FramedLine l = line.meta;
      if (!l.too_long) {
        l.text = std::string_view(job.bytes.data() + line.offset, line.size);
        l.readable = job.bytes.size() - line.offset;
      }
      batcher->add(l);
    }
    store::IngestBatch batch = batcher->take();
    input_.return_batcher(std::move(batcher));
    return input_.store.prepare(std::move(batch));
  }

  // On the strand: submits every decoded batch whose turn has come.
  void on_decoded(uint64_t seq, store::PreparedBatch prepared, size_t bytes) {
    ready_.emplace(seq, std::make_pair(std::move(prepared), bytes));
    --decoding_;
    while (!ready_.empty() && ready_.begin()->first == next_submit_) {
      auto [p, n] = std::move(ready_.begin()->second);
      ready_.erase(ready_.begin());
      ++next_submit_;
      // In flight from now on: what the prepared batch holds (a label's contribution is far
      // larger than its line), instead of the bytes read.
      const size_t held = p.bytes();
      in_flight_ = in_flight_ - n + held;
      submit(std::move(p), held);
    }
    input_.decoding_finished();
    if (paused_ && !closed_) read();
  }

  // Tries the read again in 100 ms (the memory budget refused a buffer).
  void retry_read_later() {
    auto t = std::make_shared<asio::steady_timer>(socket_.get_executor(),
                                                  std::chrono::milliseconds(100));
    t->async_wait([self = shared_from_this(), t](boost::system::error_code ec) {
      if (!ec && !self->closed_ && self->paused_ && !self->reading_) self->read();
    });
  }

  // `bytes` were counted in flight when the read was dispatched.
  void submit(store::PreparedBatch prepared, size_t bytes) {
    const store::IngestBatch& batch = prepared.batch();
    input_.metrics.received(batch.events.size() + batch.rejects.size() + batch.omitted());
    auto rejects = InputMetrics::count_rejects(batch);
    input_.store.submit(
        std::move(prepared), [self = shared_from_this(), bytes,
                              rejects = std::move(rejects)](const store::CommitResult& result) {
          self->input_.metrics.committed(result, rejects);
          asio::post(self->socket_.get_executor(), [self, bytes] { self->on_committed(bytes); });
        });
  }

  void on_committed(size_t bytes) {
    in_flight_ -= bytes;
    if (paused_) read();
  }

  void close(const std::string& why) {
    if (closed_) return;
    closed_ = true;
    if (!why.empty() && why != "server stopping") {
      spdlog::debug("tcp input: closing connection: {}", why);
    }
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    timer_.cancel();
    input_.metrics.connection_closed();
    input_.remove(shared_from_this());
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  TcpInput::Impl& input_;
  std::shared_ptr<TcpInput::Impl> owner_;  // keeps the input alive while callbacks are pending
  NdjsonFramer framer_;
  Chunk chunk_;  // the read being framed
  // Reads decoding on the I/O pool (at most kMaxDecoding), and decoded ones waiting for their turn.
  static constexpr size_t kMaxDecoding = 4;
  size_t decoding_ = 0;
  uint64_t next_chunk_ = 0, next_submit_ = 0;
  std::map<uint64_t, std::pair<store::PreparedBatch, size_t>> ready_;
  size_t in_flight_ = 0;
  bool reading_ = false;
  bool paused_ = false;
  bool closed_ = false;
  bool timer_armed_ = false;
  std::chrono::steady_clock::time_point last_activity_;
};

}  // namespace

void TcpInput::Impl::accept() { accept_connections<Connection>(shared_from_this(), "tcp input"); }

TcpInput::TcpInput(asio::io_context& io, TcpInputOptions options, const InputContext& context)
    : impl_(std::make_shared<Impl>(io, std::move(options), context)) {}

TcpInput::~TcpInput() = default;

Status TcpInput::start() {
  if (auto s = bind_acceptor(impl_->acceptor, impl_->options.listen, "tcp input", impl_->bound);
      !s) {
    return s;
  }
  auto& a = impl_->acceptor;
  asio::dispatch(a.get_executor(), [impl = impl_] { impl->accept(); });
  return Status::ok();
}

HostPort TcpInput::local_endpoint() const { return impl_->bound; }

void TcpInput::stop() {
  stop_listener(*impl_);
  // What was read is committed: every read still decoding is submitted before the store stops.
  std::unique_lock lock(impl_->decoding_mu);
  impl_->decoding_cv.wait(lock, [&] { return impl_->decoding == 0; });
}

}  // namespace verity::ingest
