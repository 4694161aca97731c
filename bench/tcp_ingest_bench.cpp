// verity-bench-tcp: durable-ingest throughput against a real `verity serve`, over any input.
//
// Generates N realistic prediction logs, sends them over C connections to a fresh verity (its own
// data dir and free ports), and waits until the stored counter reaches N. Prints events/s, MB/s,
// server CPU, server peak RSS, and commit latency p50/p99 (from verity's histogram). As a baseline
// measured in the same run, the same NDJSON bytes are first sent to an in-process discard server,
// so the ratio shows what Verity costs relative to the loopback and load generator alone.
// --protocol picks the input:
//   tcp    NDJSON over TCP (streamed)
//   http   POST /v1/predictions, --batch lines per request, answered after commit
//   bulk   POST /_bulk (Elasticsearch bulk bodies), --batch items per request
//   beats  Lumberjack v2 windows of --batch Filebeat-wrapped events, zlib-compressed, at most two
//          unacknowledged per connection (Filebeat's logstash output defaults: pipelining 2)
//
//   build/bench/verity-bench-tcp --events 1000000 --connections 4 --sync group [--protocol beats]

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio.hpp>

#include "prediction_generator.h"
#include "proc_stats.h"
#include "server_process.h"
#include "test_client.h"
#include "verity/app/http_client.h"
#include "verity/core/http.h"
#include "verity/document/json_writer.h"

namespace {

using namespace verity;
using Clock = std::chrono::steady_clock;
namespace asio = boost::asio;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// A quantile from a Prometheus histogram's cumulative buckets, interpolated within the bucket.
double histogram_quantile(const std::string& metrics, const std::string& name, double q) {
  std::vector<std::pair<double, double>> buckets;  // (le, cumulative count)
  std::istringstream in(metrics);
  const std::string prefix = name + "_bucket{le=\"";
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) != 0) continue;
    const size_t end = line.find('"', prefix.size());
    const std::string le = line.substr(prefix.size(), end - prefix.size());
    const double bound = le == "+Inf" ? INFINITY : std::stod(le);
    buckets.emplace_back(bound, std::stod(line.substr(line.rfind(' ') + 1)));
  }
  if (buckets.empty() || buckets.back().second == 0) return NAN;
  const double target = q * buckets.back().second;
  double prev_bound = 0, prev_count = 0;
  for (const auto& [bound, count] : buckets) {
    if (count >= target) {
      if (std::isinf(bound)) return prev_bound;
      const double in_bucket = count - prev_count;
      return in_bucket == 0 ? bound
                            : prev_bound + (bound - prev_bound) * (target - prev_count) / in_bucket;
    }
    prev_bound = bound;
    prev_count = count;
  }
  return prev_bound;
}

// Sends each connection's bytes on its own thread; returns when the server has read everything.
void send_all(const HostPort& to, const std::vector<std::string>& per_connection) {
  std::vector<std::thread> threads;
  for (const auto& data : per_connection) {
    threads.emplace_back([&to, &data] { testing::send_ndjson(to, data, 256 * 1024); });
  }
  for (auto& t : threads) t.join();
}

// Baseline: a server that reads and discards, on 2 threads like verity's default io_threads.
double discard_baseline_seconds(const std::vector<std::string>& per_connection) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  const HostPort to{"127.0.0.1", acceptor.local_endpoint().port()};
  std::atomic<size_t> open{per_connection.size()};
  std::function<void()> accept = [&] {
    acceptor.async_accept([&](boost::system::error_code ec, asio::ip::tcp::socket s) {
      if (ec) return;
      auto sock = std::make_shared<asio::ip::tcp::socket>(std::move(s));
      auto buf = std::make_shared<std::vector<char>>(64 * 1024);
      auto read = std::make_shared<std::function<void()>>();
      *read = [sock, buf, read, &open] {
        sock->async_read_some(asio::buffer(*buf),
                              [sock, buf, read, &open](boost::system::error_code e, size_t) {
                                if (e) {
                                  sock->close();
                                  --open;
                                  *read = nullptr;  // break the cycle
                                  return;
                                }
                                (*read)();
                              });
      };
      (*read)();
      accept();
    });
  };
  accept();
  std::vector<std::thread> io_threads;
  for (int i = 0; i < 2; ++i) io_threads.emplace_back([&] { io.run(); });
  const auto t0 = Clock::now();
  send_all(to, per_connection);
  const double secs = seconds_since(t0);
  io.stop();
  for (auto& t : io_threads) t.join();
  return secs;
}

// Cuts each connection's lines into the payloads it will send: HTTP bodies of `batch` lines, bulk
// bodies of `batch` items, or compressed Lumberjack windows of `batch` Filebeat-wrapped events.
// Built before the clock starts, so the load generator's own work (zlib above all) is not timed.
std::vector<std::vector<std::string>> prepare(const std::string& protocol,
                                              const std::vector<std::string>& per_connection,
                                              size_t batch) {
  std::vector<std::vector<std::string>> out;
  for (const auto& data : per_connection) {
    std::vector<std::string_view> lines;
    for (size_t pos = 0; pos < data.size();) {
      const size_t nl = data.find('\n', pos);
      lines.emplace_back(data.data() + pos, nl - pos);
      pos = nl + 1;
    }
    auto& payloads = out.emplace_back();
    for (size_t start = 0; start < lines.size(); start += batch) {
      const size_t end = std::min(lines.size(), start + batch);
      if (protocol == "beats") {
        std::vector<std::string> events;
        for (size_t i = start; i < end; ++i) {
          std::string message;
          document::append_json_string(message, lines[i]);
          events.push_back(R"({"@timestamp":"2026-11-20T10:30:01Z","@metadata":{"beat":)"
                           R"("filebeat","version":"8.15.0"},"host":{"name":"node-1"},)"
                           R"("log":{"file":{"path":"/var/log/model.log"}},"message":)" +
                           message + "}");
        }
        payloads.push_back(testing::lj_window_of(events, true));
        continue;
      }
      std::string body;
      for (size_t i = start; i < end; ++i) {
        if (protocol == "bulk") body += "{\"create\":{\"_index\":\"predictions\"}}\n";
        body.append(lines[i]);
        body += '\n';
      }
      payloads.push_back(std::move(body));
    }
  }
  return out;
}

// Sends each connection's payloads on its own thread, each waiting for its answer (which comes
// after the commit): one HTTP request at a time, or at most two unacknowledged Beats windows
// (Filebeat's default pipelining).
void send_prepared(const std::string& protocol, const testing::ServerProcess& server,
                   const std::vector<std::vector<std::string>>& prepared) {
  std::vector<std::thread> threads;
  for (const auto& payloads : prepared) {
    threads.emplace_back([&] {
      if (protocol == "beats") {
        testing::TcpClient beats(server.beats());
        size_t acked = 0;
        auto await_ack = [&] {
          if (!testing::read_ack(beats, std::chrono::seconds(120))) {
            std::fprintf(stderr, "beats: window not acknowledged\n");
            std::exit(1);
          }
          ++acked;
        };
        for (size_t i = 0; i < payloads.size(); ++i) {
          beats.send(payloads[i]);
          if (i + 1 - acked == 2) await_ack();
        }
        while (acked < payloads.size()) await_ack();
        return;
      }
      const std::string path = protocol == "bulk" ? "/_bulk" : "/v1/predictions";
      for (const auto& body : payloads) {
        for (;;) {
          auto res = app::http_request("POST", server.http_url() + path, body,
                                       {"Content-Type: application/x-ndjson"}, 120'000);
          if (res && res->status == 200) break;
          if (res && res->status == 429) {  // backpressure: retry as a client would
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            continue;
          }
          std::fprintf(stderr, "%s: request failed: %s\n", protocol.c_str(),
                       res ? std::to_string(res->status).c_str() : res.status().message().c_str());
          std::exit(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Durable ingest throughput of verity over loopback TCP"};
  uint64_t events = 200'000;
  size_t connections = 4;
  std::string sync = "group";
  std::string extra;
  app.add_option("--events,-n", events, "Events to send");
  app.add_option("--connections,-c", connections, "Concurrent TCP connections");
  app.add_option("--sync", sync, "store.sync: always | group | none")
      ->check(CLI::IsMember({"always", "group", "none"}));
  app.add_option("--config-extra", extra, "Extra YAML for the server config");
  std::string protocol = "tcp";
  size_t batch = 1000;
  app.add_option("--protocol", protocol, "Input: tcp | http | bulk | beats")
      ->check(CLI::IsMember({"tcp", "http", "bulk", "beats"}));
  app.add_option("--batch", batch, "Lines per HTTP request, items per bulk, events per window");
  CLI11_PARSE(app, argc, argv);

  std::vector<std::string> per_connection(connections);
  bench::PredictionGenerator gen(42);
  uint64_t bytes = 0;
  for (uint64_t i = 0; i < events; ++i) {
    std::string& out = per_connection[i % connections];
    const size_t before = out.size();
    gen.next(out);
    out += '\n';
    bytes += out.size() - before;
  }
  std::printf(
      "workload: %llu events, %.1f MB, %.0f bytes/event, %zu connections, sync=%s, protocol=%s\n",
      static_cast<unsigned long long>(events), bytes / 1e6,
      static_cast<double>(bytes) / static_cast<double>(events), connections, sync.c_str(),
      protocol.c_str());

  const double baseline = discard_baseline_seconds(per_connection);

  testing::TempDir dir;
  testing::ServerProcess server(dir.path() / "data",
                                "log: {level: warn}\nstore: {sync: " + sync + "}\n" + extra);
  server.start();
  const std::string input = protocol == "bulk" ? "es_bulk" : protocol;
  const std::string stored_series = "verity_ingest_events_stored_total{input=\"" + input + "\"}";
  const auto prepared = protocol == "tcp" ? std::vector<std::vector<std::string>>()
                                          : prepare(protocol, per_connection, batch);
  const double cpu0 = bench::cpu_seconds(server.pid());
  const auto threads0 = bench::thread_cpu_seconds(server.pid());
  const auto t0 = Clock::now();
  if (protocol == "tcp") {
    send_all(server.tcp(), per_connection);
  } else {
    send_prepared(protocol, server, prepared);
  }
  const double sent_secs = seconds_since(t0);
  const double stored = testing::wait_for_metric(
      server.http_url(), stored_series, static_cast<double>(events), std::chrono::seconds(600));
  const double secs = seconds_since(t0);
  const double cpu = bench::cpu_seconds(server.pid()) - cpu0;
  auto threads = bench::thread_cpu_seconds(server.pid());
  for (const auto& [name, secs0] : threads0) threads[name] -= secs0;
  const double rss = bench::status_mib(server.pid(), "VmHWM:");
  auto metrics = app::http_get(server.http_url() + "/metrics");
  const std::string m = metrics ? metrics->body : "";
  const double p50 = histogram_quantile(m, "verity_store_commit_latency_seconds", 0.50) * 1000;
  const double p99 = histogram_quantile(m, "verity_store_commit_latency_seconds", 0.99) * 1000;
  const double groups =
      testing::metric_value(m, "verity_store_commit_group_events_count").value_or(0);
  const int exit_code = server.terminate();

  if (stored != static_cast<double>(events)) {
    std::fprintf(stderr, "only %.0f of %llu events were stored\n", stored,
                 static_cast<unsigned long long>(events));
    return 1;
  }
  const double eps = static_cast<double>(events) / secs;
  const double base_eps = static_cast<double>(events) / baseline;
  std::printf("baseline (loopback -> discard):  %10.0f events/s  %7.1f MB/s\n", base_eps,
              bytes / baseline / 1e6);
  std::printf("verity %-5s (durable, sync=%s): %10.0f events/s  %7.1f MB/s  (%.2fx of baseline)\n",
              protocol.c_str(), sync.c_str(), eps, bytes / secs / 1e6, eps / base_eps);
  std::printf("  all bytes read by server after %.2f s, all stored after %.2f s\n", sent_secs,
              secs);
  std::printf("  server CPU: %.2f s (%.2f cores; %.1f us/event)\n", cpu, cpu / secs,
              cpu / static_cast<double>(events) * 1e6);
  std::printf("  server CPU by thread:");
  for (const auto& [name, secs] : threads) {
    if (secs >= 0.05)
      std::printf("  %s %.1f us/event", name.c_str(), secs / static_cast<double>(events) * 1e6);
  }
  std::printf("\n  server peak RSS: %.0f MiB\n", rss);
  std::printf(
      "  commit groups: %.0f (%.0f events/group), commit latency p50 %.2f ms, p99 %.2f ms\n",
      groups, groups > 0 ? static_cast<double>(events) / groups : 0.0, p50, p99);
  // RocksDB's background work per column family, from verity_store_*_total{family=...}.
  std::printf("  compaction CPU by family:");
  for (const auto& [family, cpu_s] : bench::compaction_cpu_by_family(m)) {
    const std::string labels = "{family=\"" + family + "\"}";
    const double flushes =
        testing::metric_value(m, "verity_store_flushes_total" + labels).value_or(0);
    const double written =
        testing::metric_value(m, "verity_store_compaction_written_bytes_total" + labels)
            .value_or(0);
    if (cpu_s >= 0.01 || flushes >= 1)
      std::printf("  %s %.2f us/event (%.0f flushes, %.0f MB rewritten)", family.c_str(),
                  cpu_s / static_cast<double>(events) * 1e6, flushes, written / 1e6);
  }
  std::printf("\n  server exit code on SIGTERM: %d\n", exit_code);
  return exit_code == 0 ? 0 : 1;
}
