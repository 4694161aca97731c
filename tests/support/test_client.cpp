#include "test_client.h"

#include "gzip.h"

#include <sys/wait.h>

#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <boost/asio.hpp>

#include "verity/app/http_client.h"

namespace verity::testing {

namespace {

std::string be32(uint32_t v) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((v >> (8 * (3 - i))) & 0xff);
  return out;
}

}  // namespace
namespace asio = boost::asio;
using asio::ip::tcp;

struct TcpClient::Impl {
  asio::io_context io;
  tcp::socket socket{io};
};

TcpClient::TcpClient(const HostPort& to) : impl_(std::make_unique<Impl>()) {
  impl_->socket.connect(tcp::endpoint(asio::ip::make_address(to.host), to.port));
}

TcpClient::~TcpClient() = default;

void TcpClient::send(const std::string& data, size_t piece) {
  if (piece == 0) piece = data.size();
  for (size_t pos = 0; pos < data.size(); pos += piece) {
    asio::write(impl_->socket, asio::buffer(data.data() + pos, std::min(piece, data.size() - pos)));
  }
}

bool TcpClient::finish(std::chrono::seconds timeout) {
  boost::system::error_code ec;
  impl_->socket.shutdown(tcp::socket::shutdown_send, ec);
  return closed_by_server(std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
}

bool TcpClient::closed_by_server(std::chrono::milliseconds wait) {
  // A read that completes with EOF (or an error) means the server closed; a timer bounds the wait.
  impl_->io.restart();
  bool closed = false;
  char byte;
  asio::steady_timer timer(impl_->io, wait);
  impl_->socket.async_read_some(asio::buffer(&byte, 1), [&](boost::system::error_code ec, size_t) {
    // Cancelled by the timer: still open.
    if (ec && ec != asio::error::operation_aborted) closed = true;
    timer.cancel();
  });
  timer.async_wait([&](boost::system::error_code ec) {
    if (!ec) impl_->socket.cancel();
  });
  impl_->io.run();
  return closed;
}

std::optional<std::string> TcpClient::read_exactly(size_t n, std::chrono::milliseconds wait) {
  impl_->io.restart();
  std::string out(n, '\0');
  bool ok = false;
  asio::steady_timer timer(impl_->io, wait);
  asio::async_read(impl_->socket, asio::buffer(out), [&](boost::system::error_code ec, size_t) {
    ok = !ec;
    timer.cancel();
  });
  timer.async_wait([&](boost::system::error_code ec) {
    if (!ec) impl_->socket.cancel();
  });
  impl_->io.run();
  if (!ok) return std::nullopt;
  return out;
}

std::string lj_window(uint32_t size) { return "2W" + be32(size); }

std::string lj_json(uint32_t seq, const std::string& payload) {
  return "2J" + be32(seq) + be32(static_cast<uint32_t>(payload.size())) + payload;
}

std::string lj_compressed(const std::string& frames) {
  const std::string z = compress(frames, false);
  return "2C" + be32(static_cast<uint32_t>(z.size())) + z;
}

std::string lj_window_of(const std::vector<std::string>& events, bool compressed) {
  std::string frames;
  for (size_t i = 0; i < events.size(); ++i) {
    frames += lj_json(static_cast<uint32_t>(i + 1), events[i]);
  }
  return lj_window(static_cast<uint32_t>(events.size())) +
         (compressed ? lj_compressed(frames) : frames);
}

std::optional<uint32_t> read_ack(TcpClient& c, std::chrono::milliseconds wait) {
  for (;;) {
    auto frame = c.read_exactly(6, wait);
    if (!frame || frame->substr(0, 2) != "2A") return std::nullopt;
    uint32_t seq = 0;
    for (int i = 2; i < 6; ++i) seq = (seq << 8) | static_cast<uint8_t>((*frame)[i]);
    if (seq != 0) return seq;  // 0 is a keepalive
  }
}

void send_ndjson(const HostPort& to, const std::string& data, size_t piece) {
  TcpClient c(to);
  c.send(data, piece);
  if (!c.finish()) throw std::runtime_error("the server did not close the connection");
}

std::optional<double> metric_value(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

double scrape(const std::string& base_url, const std::string& series) {
  auto res = app::http_get(base_url + "/metrics");
  if (!res || res->status != 200) throw std::runtime_error("cannot scrape " + base_url);
  return metric_value(res->body, series).value_or(0);
}

namespace {

// Polls until `done` holds or `timeout`. A scrape the server refuses is polled again (a test of
// connection limits may have the server at its limit for a moment, while an earlier scrape's
// connection is still closing); only when none succeeded by the timeout is it an error.
template <typename Done>
double poll_metric(const std::string& base_url, const std::string& series, Done done,
                   std::chrono::seconds timeout) {
  double seen = 0;
  bool scraped = false;
  wait_until(
      [&] {
        auto res = app::http_get(base_url + "/metrics");
        if (!res || res->status != 200) return false;
        scraped = true;
        seen = metric_value(res->body, series).value_or(0);
        return done(seen);
      },
      timeout);
  if (!scraped) throw std::runtime_error("cannot scrape " + base_url);
  return seen;
}

}  // namespace

double wait_for_metric(const std::string& base_url, const std::string& series, double value,
                       std::chrono::seconds timeout) {
  return poll_metric(
      base_url, series, [value](double v) { return v == value; }, timeout);
}

double wait_for_at_least(const std::string& base_url, const std::string& series, double value,
                         std::chrono::seconds timeout) {
  return poll_metric(
      base_url, series, [value](double v) { return v >= value; }, timeout);
}

CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string peers_dir() { return std::string(VERITY_SOURCE_DIR) + "/tests/peers"; }

std::string prediction_line(const std::string& request_id, const std::string& timestamp,
                            const std::string& model) {
  return R"({"request_id":")" + request_id + R"(","@timestamp":")" + timestamp +
         R"(","model_name":")" + model +
         R"(","model_version":"v3","input_features":{"amount":12.5,"country":"DE","age":37},)"
         R"("prediction":{"label":"fraud","score":0.91},"confidence":0.91,"latency_ms":4.2})";
}

bool make_test_certificates(const std::filesystem::path& d) {
  const std::string q = "cd '" + d.string() + "' && ";
  const std::string subj = " -subj /CN=";
  for (
      const std::string& cmd : {
          q + "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout ca.key -out ca.pem" +
              subj + "verity-test-ca",
          q + "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr" + subj +
              "127.0.0.1",
          q + "printf 'subjectAltName=IP:127.0.0.1' > san.ext && openssl x509 -req -in server.csr "
              "-CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.pem",
          q + "openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr" + subj +
              "filebeat",
          q + "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
              "-out client.pem",
          q + "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout rogue.key -out rogue.pem" +
              subj + "rogue",
      }) {
    const auto r = run_command(cmd);
    if (r.exit_code != 0) {
      std::fprintf(stderr, "%s\n%s\n", cmd.c_str(), r.output.c_str());
      return false;
    }
  }
  return true;
}

}  // namespace verity::testing
