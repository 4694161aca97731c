#include "verity/ingest/tcp_input.h"

#include <atomic>
#include <mutex>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include "listener_util.h"

#include "verity/ingest/line_batcher.h"
#include "verity/ingest/ndjson_framer.h"
#include "verity/store/store.h"

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
    if (in_flight_ > input_.options.max_in_flight.bytes) return true;
    return in_flight_ > 0 && input_.store.backlogged();
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
      framer_.drain([this](const FramedLine& line) { batcher().add(line); });
    }
    if (ec == asio::error::eof) {
      framer_.finish([this](const FramedLine& line) { batcher().add(line); });
      submit();
      close("");
      return;
    }
    if (ec) {
      submit();
      close(ec.message());
      return;
    }
    submit();
    framer_.trim();
    read();
  }

  // Tries the read again in 100 ms (the memory budget refused a buffer).
  void retry_read_later() {
    auto t = std::make_shared<asio::steady_timer>(socket_.get_executor(),
                                                  std::chrono::milliseconds(100));
    t->async_wait([self = shared_from_this(), t](boost::system::error_code ec) {
      if (!ec && !self->closed_ && self->paused_ && !self->reading_) self->read();
    });
  }

  void submit() {
    if (!batcher_ || batcher_->empty()) return;
    store::IngestBatch batch = batcher_->take();
    input_.return_batcher(std::move(batcher_));
    input_.metrics.received(batch.events.size() + batch.rejects.size() + batch.omitted());
    const size_t bytes = batch.bytes();
    in_flight_ += bytes;
    auto rejects = InputMetrics::count_rejects(batch);
    input_.store.submit(
        std::move(batch), [self = shared_from_this(), bytes,
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
  // Lent by the input while there is something to decode (see InputListener::lend_batcher).
  LineBatcher& batcher() {
    if (!batcher_) {
      batcher_ = input_.lend_batcher(DecoderLimits{input_.options.max_line.bytes, 64, 256},
                                     input_.options.max_dead_letters);
    }
    return *batcher_;
  }
  std::unique_ptr<LineBatcher> batcher_;
  NdjsonFramer framer_;
  size_t in_flight_ = 0;
  bool reading_ = false;
  bool paused_ = false;
  bool closed_ = false;
  bool timer_armed_ = false;
  std::chrono::steady_clock::time_point last_activity_;
};

}  // namespace

void TcpInput::Impl::accept() { accept_connections<Connection>(shared_from_this(), "tcp input"); }

TcpInput::TcpInput(asio::io_context& io, TcpInputOptions options, store::Store& store,
                   std::shared_ptr<const document::FieldMappingSet> mappings, const Clock& clock,
                   InputMetrics& metrics, std::shared_ptr<const Masker> masker,
                   MaskingMetrics* masking_metrics, MemoryBudget* budget)
    : impl_(std::make_shared<Impl>(io, std::move(options), store, std::move(mappings), clock,
                                   metrics, std::move(masker), masking_metrics)) {
  impl_->budget = budget;
}

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

void TcpInput::stop() { stop_listener(*impl_); }

}  // namespace verity::ingest
