#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "verity/core/units.h"

#include "wait.h"

namespace verity::testing {

// A blocking TCP client (Boost.Asio) for sending NDJSON.
class TcpClient {
 public:
  explicit TcpClient(const HostPort& to);
  ~TcpClient();
  // Writes everything, in pieces of `piece` bytes when non-zero (to split lines across reads).
  void send(const std::string& data, size_t piece = 0);
  // Half-closes and waits (up to `timeout`) for the server to close its side: once this returns the
  // server has read every byte sent.
  bool finish(std::chrono::seconds timeout = std::chrono::seconds(30));
  // True when the server has closed the connection (a read returns EOF or an error within `wait`).
  bool closed_by_server(std::chrono::milliseconds wait);
  // Reads exactly `n` bytes within `wait`; nullopt on timeout, EOF or error.
  std::optional<std::string> read_exactly(size_t n, std::chrono::milliseconds wait);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Sends `data` on a new connection and waits until the server has read it all.
void send_ndjson(const HostPort& to, const std::string& data, size_t piece = 0);

// The value of one series in Prometheus text, e.g.
// metric_value(text, "verity_ingest_events_stored_total{input=\"tcp\"}"); nullopt when absent.
std::optional<double> metric_value(const std::string& text, const std::string& series);
// GET /metrics and read one series (0 when absent).
double scrape(const std::string& base_url, const std::string& series);
// Polls /metrics until the series equals `value` or `timeout` passes; returns the last value seen.
double wait_for_metric(const std::string& base_url, const std::string& series, double value,
                       std::chrono::seconds timeout = std::chrono::seconds(60));

// Lumberjack v2 frames, for driving the Beats input byte by byte.
std::string lj_window(uint32_t size);
std::string lj_json(uint32_t seq, const std::string& payload);
std::string lj_compressed(const std::string& frames);  // zlib around complete frames
// A whole window: its 'W' frame and the events as 'J' frames (seq 1..n), compressed or not.
std::string lj_window_of(const std::vector<std::string>& events, bool compressed);
// The next non-keepalive ACK's sequence; nullopt when none arrives within `wait` or the server
// closed the connection.
std::optional<uint32_t> read_ack(TcpClient& c, std::chrono::milliseconds wait);

// Runs a shell command; its exit code and its output (stdout and stderr together).
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult run_command(const std::string& command);

// Makes, in `dir` (openssl CLI): ca.pem/ca.key (a test CA), server.pem/server.key (for 127.0.0.1,
// signed by the CA), client.pem/client.key (signed by the CA) and rogue.pem/rogue.key (self-signed,
// no CA vouches for it). False (with the failing command printed) when openssl fails.
bool make_test_certificates(const std::filesystem::path& dir);
// The directory of the test peers (real client libraries: tests/peers).
std::string peers_dir();

// Polls /metrics until the series reaches at least `value` or `timeout` passes; the last value.
double wait_for_at_least(const std::string& base_url, const std::string& series, double value,
                         std::chrono::seconds timeout = std::chrono::seconds(60));

// A prediction line (no newline) with a realistic shape.
std::string prediction_line(const std::string& request_id,
                            const std::string& timestamp = "2026-11-20T10:30:00Z",
                            const std::string& model = "fraud");

}  // namespace verity::testing
