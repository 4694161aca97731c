#include "test_client.h"

#include <sstream>
#include <stdexcept>
#include <thread>

#include <boost/asio.hpp>

#include "verity/app/http_client.h"

namespace verity::testing {
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
    if (ec) closed = true;
    timer.cancel();
  });
  timer.async_wait([&](boost::system::error_code ec) {
    if (!ec) impl_->socket.cancel();
  });
  impl_->io.run();
  return closed;
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

double wait_for_metric(const std::string& base_url, const std::string& series, double value,
                       std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  double seen = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    seen = scrape(base_url, series);
    if (seen == value) return seen;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling /metrics
  }
  return seen;
}

std::string prediction_line(const std::string& request_id, const std::string& timestamp,
                            const std::string& model) {
  return R"({"request_id":")" + request_id + R"(","@timestamp":")" + timestamp +
         R"(","model_name":")" + model +
         R"(","model_version":"v3","input_features":{"amount":12.5,"country":"DE","age":37},)"
         R"("prediction":{"label":"fraud","score":0.91},"confidence":0.91,"latency_ms":4.2})";
}

}  // namespace verity::testing
