#include "verity/ingest/beats_input.h"

#include <deque>
#include <mutex>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include "listener_util.h"

#include "verity/ingest/line_batcher.h"
#include "verity/store/batch_sink.h"

namespace verity::ingest {
namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::ip::tcp;

namespace {

class Connection;

// The metric label of a protocol error.
std::string_view error_reason(const Status& s) {
  if (s.code() == StatusCode::kResourceExhausted) return "inflate_limit";
  if (s.message().find("max_frame") != std::string::npos) return "frame_too_large";
  if (s.message().find("window size") != std::string::npos) return "window_too_large";
  return "protocol_error";
}

}  // namespace

struct BeatsInput::Impl : InputListener<BeatsInputOptions, Connection>,
                          std::enable_shared_from_this<BeatsInput::Impl> {
  using InputListener::InputListener;

  ssl::context ssl_context{ssl::context::tls_server};

  Status load_tls();
  void accept();
};

namespace {

class Connection : public std::enable_shared_from_this<Connection>, private LumberjackHandler {
 public:
  Connection(tcp::socket socket, BeatsInput::Impl& input)
      : socket_(std::move(socket)),
        tls_(input.options.tls.enabled),
        timer_(socket_.get_executor()),
        input_(input),
        owner_(input.shared_from_this()),
        decoder_(input.options.limits, input.options.read_chunk.bytes, input.budget) {
    boost::system::error_code ec;
    const auto peer = socket_.remote_endpoint(ec);
    if (!ec) peer_ = peer.address().to_string() + ":" + std::to_string(peer.port());
    // The TLS engine (about 70 KB of record buffers) exists only on TLS connections.
    if (tls_) tls_stream_ = std::make_unique<ssl::stream<tcp::socket&>>(socket_, input.ssl_context);
  }

  void start() {
    input_.metrics.connection_opened();
    last_activity_ = last_write_ = std::chrono::steady_clock::now();
    tick();
    if (!tls_) return read();
    tls_stream_->async_handshake(
        ssl::stream_base::server, [self = shared_from_this()](boost::system::error_code ec) {
          if (self->closed_) return;
          if (ec) {
            self->input_.metrics.protocol_error("tls_handshake");
            return self->close("TLS handshake failed: " + ec.message(), true);
          }
          self->read();
        });
  }

  void stop() { close("server stopping", false); }
  asio::any_io_executor executor() { return socket_.get_executor(); }

 private:
  struct Window {
    uint32_t size = 0;
    uint32_t received = 0;   // events read
    uint32_t committed = 0;  // events whose batch is committed
    uint32_t highest = 0;    // highest sequence read
  };

  // LumberjackHandler: called while draining the decoder.
  void on_window(uint32_t size) override {
    windows_.push_back(Window{size});
    ++windows_opened_;
  }
  void on_event(uint32_t seq, std::string_view json, size_t readable) override {
    FramedLine line;
    line.text = json;
    line.readable = readable;
    line.number = seq;
    line.length = json.size();
    add(seq, line);
  }
  void on_oversized_event(uint32_t seq, uint64_t length) override {
    FramedLine line;
    line.number = seq;
    line.length = length;
    line.too_long = true;
    add(seq, line);
  }
  // Events decoded but not yet submitted are bounded too: the decoder stops (a compressed frame
  // stays half-inflated) until they are committed.
  bool full() const override {
    return batched_bytes_ >= kMaxBatchBytes ||
           in_flight_ + batched_bytes_ > input_.options.max_in_flight.bytes;
  }
  void add(uint32_t seq, const FramedLine& line) {
    batched_bytes_ += line.length + 64;
    batcher().add(line);
    Window& w = windows_.back();
    ++w.received;
    w.highest = std::max(w.highest, seq);
    // Batch accounting: events per window, by absolute window number.
    const uint64_t window_no = windows_opened_ - 1;
    if (pending_.empty() || pending_.back().first != window_no) {
      pending_.emplace_back(window_no, 0);
    }
    ++pending_.back().second;
  }

  bool should_pause() const { return input_.backpressure.pause_reading(in_flight_); }

  template <typename Handler>
  void async_read_some(asio::mutable_buffer b, Handler&& h) {
    if (tls_) {
      tls_stream_->async_read_some(b, std::forward<Handler>(h));
    } else {
      socket_.async_read_some(b, std::forward<Handler>(h));
    }
  }

  void read() {
    if (closed_ || reading_) return;
    if (decoder_.pending()) {  // received bytes wait: the handler was full, or memory short
      if (full()) {
        paused_ = true;  // until a commit
        return;
      }
      return process();
    }
    if (should_pause()) {
      paused_ = true;
      return;
    }
    auto area = decoder_.write_area();
    if (area.empty()) {  // the inputs' memory budget is spent: stop reading, do not grow
      paused_ = true;
      starved_ = true;
      return;
    }
    paused_ = starved_ = false;
    reading_ = true;
    async_read_some(asio::buffer(area.data(), area.size()),
                    [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                      self->on_read(ec, n);
                    });
  }

  void on_read(boost::system::error_code ec, size_t n) {
    reading_ = false;
    if (closed_) return;
    if (n > 0) {
      decoder_.commit(n);
      input_.metrics.bytes(n);
      last_activity_ = std::chrono::steady_clock::now();
      if (!decode()) return;
    }
    if (ec) {
      submit();
      const bool eof = ec == asio::error::eof || ec == ssl::error::stream_truncated;
      return close(eof ? "" : ec.message(), false);
    }
    read();
  }

  // Decodes what was received and submits it; false when the connection was closed.
  bool decode() {
    const Status s = decoder_.drain(*this);
    submit();
    if (!s) {
      input_.metrics.protocol_error(error_reason(s));
      close("protocol error: " + s.message(), true);
      return false;
    }
    if (!decoder_.pending()) decoder_.trim();  // buffers go back between reads
    return true;
  }

  // Decodes more of what is buffered (after a commit, or memory came back), then reads on.
  void process() {
    if (closed_ || !decode()) return;
    if (decoder_.pending()) {
      paused_ = true;
      starved_ = decoder_.starved();
      return;
    }
    read();
  }

  void submit() {
    if (!batcher_ || batcher_->empty()) return;
    store::IngestBatch batch = batcher_->take();
    input_.return_batcher(std::move(batcher_));
    batched_bytes_ = 0;
    input_.metrics.received(batch.events.size() + batch.rejects.size() + batch.omitted());
    const size_t bytes = batch.bytes();
    in_flight_ += bytes;
    auto rejects = InputMetrics::count_rejects(batch);
    auto counts = std::move(pending_);
    pending_.clear();
    input_.store.submit(
        std::move(batch), [self = shared_from_this(), bytes, rejects = std::move(rejects),
                           counts = std::move(counts)](const store::CommitResult& result) mutable {
          self->input_.metrics.committed(result, rejects);
          asio::post(self->executor(),
                     [self, bytes, ok = result.status.is_ok(), counts = std::move(counts)] {
                       self->on_committed(bytes, ok, counts);
                     });
        });
  }

  void on_committed(size_t bytes, bool ok,
                    const std::vector<std::pair<uint64_t, uint32_t>>& counts) {
    in_flight_ -= bytes;
    if (closed_) return;
    if (!ok) return close("store unavailable: the window is not acknowledged", false);
    for (const auto& [window_no, n] : counts) {
      const uint64_t first = windows_opened_ - windows_.size();
      if (window_no >= first) windows_[window_no - first].committed += n;
    }
    while (!windows_.empty()) {
      const Window& w = windows_.front();
      if (w.received < w.size || w.committed < w.size) break;
      send(lumberjack_ack(w.highest));
      windows_.pop_front();
    }
    if (paused_) read();
  }

  void send(std::string frame) {
    writes_.push_back(std::move(frame));
    if (!writing_) write_next();
  }

  void write_next() {
    if (closed_ || writes_.empty()) return;
    writing_ = true;
    last_write_ = std::chrono::steady_clock::now();
    auto done = [self = shared_from_this()](boost::system::error_code ec, size_t) {
      self->writing_ = false;
      if (self->closed_) return;
      self->writes_.pop_front();
      if (ec) return self->close("write failed: " + ec.message(), false);
      self->write_next();
    };
    if (tls_) {
      asio::async_write(*tls_stream_, asio::buffer(writes_.front()), std::move(done));
    } else {
      asio::async_write(socket_, asio::buffer(writes_.front()), std::move(done));
    }
  }

  // Keepalives are for windows waiting on a commit: the client sent them whole. A window still
  // waiting for the client's events is the client's delay, and read_timeout applies to it.
  bool waiting_on_commit() const {
    if (in_flight_ > 0) return true;
    return std::any_of(windows_.begin(), windows_.end(), [](const Window& w) {
      return w.received == w.size && w.committed < w.size;
    });
  }

  // Every second (100 ms while starved of memory): keepalive ACK(0) while windows wait for their
  // commit; close clients silent past read_timeout; retry a read the memory budget refused.
  void tick() {
    timer_.expires_after(starved_ ? std::chrono::milliseconds(100) : std::chrono::seconds(1));
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->closed_) return;
      const auto now = std::chrono::steady_clock::now();
      const bool waiting = self->waiting_on_commit();
      if (waiting && !self->writing_ && now - self->last_write_ >= self->input_.options.keepalive) {
        self->send(lumberjack_ack(0));
      }
      if (self->starved_ && !self->reading_) self->read();
      if (!waiting && now - self->last_activity_ >= self->input_.options.read_timeout) {
        self->input_.metrics.protocol_error("read_timeout");
        spdlog::info("beats input: closing idle connection from {} (read_timeout)", self->peer_);
        return self->close("", false);
      }
      self->tick();
    });
  }

  void close(const std::string& why, bool warn) {
    if (closed_) return;
    closed_ = true;
    if (warn) {
      spdlog::warn("beats input: closing connection from {}: {}", peer_, why);
    } else if (!why.empty() && why != "server stopping") {
      spdlog::debug("beats input: closing connection from {}: {}", peer_, why);
    }
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    timer_.cancel();
    input_.metrics.connection_closed();
    input_.remove(shared_from_this());
  }

  tcp::socket socket_;
  std::unique_ptr<ssl::stream<tcp::socket&>> tls_stream_;  // TLS connections only
  const bool tls_;
  asio::steady_timer timer_;
  BeatsInput::Impl& input_;
  std::shared_ptr<BeatsInput::Impl> owner_;
  LumberjackDecoder decoder_;
  // Lent by the input while there is something to decode (see InputListener::lend_batcher).
  LineBatcher& batcher() {
    if (!batcher_) {
      batcher_ = input_.lend_batcher(DecoderLimits{input_.options.limits.max_event, 64, 256},
                                     input_.options.max_dead_letters);
    }
    return *batcher_;
  }
  std::unique_ptr<LineBatcher> batcher_;
  std::string peer_ = "?";
  std::deque<Window> windows_;  // read but not yet acknowledged, oldest first
  uint64_t windows_opened_ = 0;
  std::vector<std::pair<uint64_t, uint32_t>> pending_;  // (window number, events) of the batch
  std::deque<std::string> writes_;
  size_t in_flight_ = 0;
  size_t batched_bytes_ = 0;  // decoded into the batcher, not yet submitted
  static constexpr size_t kMaxBatchBytes = 1 << 20;
  bool starved_ = false;  // reading waits for the memory budget
  bool reading_ = false;
  bool writing_ = false;
  bool paused_ = false;
  bool closed_ = false;
  std::chrono::steady_clock::time_point last_activity_, last_write_;
};

}  // namespace

Status BeatsInput::Impl::load_tls() {
  return load_server_tls(ssl_context, options.tls, "inputs.beats.tls");
}

void BeatsInput::Impl::accept() {
  accept_connections<Connection>(shared_from_this(), "beats input");
}

BeatsInput::BeatsInput(asio::io_context& io, BeatsInputOptions options, const InputContext& context)
    : impl_(std::make_shared<Impl>(io, std::move(options), context)) {}

BeatsInput::~BeatsInput() = default;

Status BeatsInput::start() {
  if (auto s = impl_->load_tls(); !s) return s;
  if (auto s = bind_acceptor(impl_->acceptor, impl_->options.listen, "beats input", impl_->bound);
      !s) {
    return s;
  }
  auto& a = impl_->acceptor;
  asio::dispatch(a.get_executor(), [impl = impl_] { impl->accept(); });
  return Status::ok();
}

HostPort BeatsInput::local_endpoint() const { return impl_->bound; }

void BeatsInput::stop() { stop_listener(*impl_); }

}  // namespace verity::ingest
