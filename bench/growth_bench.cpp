// verity-bench-growth: does the cost of an event grow with what is stored?
//
// Streams N generated predictions (default 20M, all in one partition: yesterday, UTC) over one TCP
// connection into a fresh `verity serve`, then a label for each of the first L of them, and prints
// one row per step (default every million): events/s, server CPU per event (user + system, from
// /proc, over that step alone), server RSS, and the latency of point lookups by request id of
// random stored predictions (GET /v1/predictions/{id} on a keep-alive connection, run while the
// ingest goes on). Ends with the last step's cost against the first's. The generator runs in this
// process, not the server's, so it does not count against the server's CPU.
//
//   build/bench/verity-bench-growth --events 20000000 [--labels 2000000] [--step 1000000]

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
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
#include "verity/core/time_format.h"
#include "verity/store/partition.h"

namespace {

using namespace verity;
using Clock = std::chrono::steady_clock;
namespace asio = boost::asio;
using asio::ip::tcp;

// A keep-alive HTTP/1.1 client for GETs (no new connection per lookup).
class KeepAlive {
 public:
  explicit KeepAlive(const HostPort& to) : to_(to), socket_(io_) { connect(); }
  // The status of GET `path`, its body read and dropped; -1 on a transport error. A connection the
  // server closed while idle (http.idle_timeout: a label phase can outlast it between two rows)
  // is opened again once.
  int get(const std::string& path) {
    if (int status = get_once(path); status != -1) return status;
    connect();
    return get_once(path);
  }

 private:
  void connect() {
    boost::system::error_code ec;
    socket_.close(ec);
    buf_.consume(buf_.size());
    socket_.connect({asio::ip::make_address(to_.host), to_.port}, ec);
    if (!ec) socket_.set_option(tcp::no_delay(true), ec);
  }
  int get_once(const std::string& path) {
    const std::string req = "GET " + path + " HTTP/1.1\r\nHost: verity\r\n\r\n";
    boost::system::error_code ec;
    asio::write(socket_, asio::buffer(req), ec);
    if (ec) return -1;
    const size_t head_end = asio::read_until(socket_, buf_, "\r\n\r\n", ec);
    if (ec) return -1;
    std::string head(asio::buffers_begin(buf_.data()),
                     asio::buffers_begin(buf_.data()) + static_cast<long>(head_end));
    buf_.consume(head_end);
    const int status = std::atoi(head.c_str() + 9);
    size_t length = 0;
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (auto p = lower.find("content-length:"); p != std::string::npos) {
      length = std::strtoull(lower.c_str() + p + 15, nullptr, 10);
    }
    if (buf_.size() < length)
      asio::read(socket_, buf_, asio::transfer_exactly(length - buf_.size()), ec);
    if (ec) return -1;
    buf_.consume(length);
    return status;
  }

  HostPort to_;
  asio::io_context io_;
  tcp::socket socket_;
  asio::streambuf buf_;
};

struct Step {
  uint64_t done = 0;
  double secs = 0, cpu = 0, rss = 0;
  double p50_us = 0, p99_us = 0;
  double settle_secs = 0;                    // the last step: waiting for compactions to finish
  std::map<std::string, double> compaction;  // compaction CPU seconds so far, per family
  std::map<std::string, double> threads;     // CPU seconds so far, per server thread (pool)
  size_t lookups = 0, misses = 0;
};

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

// Waits (at most 10 minutes) until RocksDB has no compaction running on five polls in a row, a
// second apart, and no backlog it would still schedule: the pending-bytes estimate reads 0, or
// stays where it is (with dynamic level sizes it can stay above 0 with nothing left to pick).
// The seconds waited; -1 when the server does not report its compactions. One scrape a second,
// so the waiting adds little CPU of its own to the step.
double settle(const testing::ServerProcess& server) {
  const auto start = Clock::now();
  int idle = 0;
  double last_pending = -1;
  while (Clock::now() - start < std::chrono::minutes(10)) {
    auto res = app::http_get(server.http_url() + "/metrics");
    if (!res || res->status != 200) return -1;
    const auto pending = testing::metric_value(res->body, "verity_store_compaction_pending_bytes");
    const auto running = testing::metric_value(res->body, "verity_store_compactions_running");
    if (!pending || !running) return -1;
    if (*running == 0 && *pending == 0) break;
    idle = *running == 0 && *pending == last_pending ? idle + 1 : 0;
    if (idle >= 5) break;
    last_pending = *pending;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Streams `total` lines made by `make(i, out)` over one connection, while the caller's thread
// records a Step each time `counter` passes a multiple of `step`, with `lookups` random lookups of
// ids below the count at each step.
// The phase's first row is the counters at its start (done 0), which print() uses as a baseline.
std::vector<Step> run_phase(const testing::ServerProcess& server, const std::string& counter,
                            double counter_base, uint64_t total, uint64_t step, size_t lookups,
                            const std::function<void(uint64_t, std::string&)>& make) {
  std::vector<Step> steps(1);
  if (auto m = app::http_get(server.http_url() + "/metrics"); m && m->status == 200)
    steps[0].compaction = bench::compaction_cpu_by_family(m->body);
  steps[0].threads = bench::thread_cpu_seconds(server.pid());
  std::atomic<bool> sender_failed{false};
  std::thread sender([&] {
    try {
      testing::TcpClient c(server.tcp());
      std::string chunk;
      for (uint64_t i = 0; i < total; ++i) {
        make(i, chunk);
        chunk += '\n';
        if (chunk.size() >= (1 << 20)) {
          c.send(chunk);
          chunk.clear();
        }
      }
      c.send(chunk);
      c.finish(std::chrono::seconds(3600));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "sender: %s\n", e.what());
      sender_failed = true;
    }
  });
  KeepAlive http(server.http());
  std::mt19937_64 rng(7);
  double last_cpu = bench::cpu_seconds(server.pid());
  auto last_t = Clock::now();
  uint64_t next = step;
  uint64_t last_done = 0;
  auto idle_since = Clock::now();
  while (next <= total) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const double v = testing::scrape(server.http_url(), counter) - counter_base;
    const auto done = static_cast<uint64_t>(std::max(0.0, v));
    if (done != last_done) idle_since = Clock::now();
    last_done = done;
    if (Clock::now() - idle_since > std::chrono::seconds(120) || sender_failed) {
      std::fprintf(stderr, "stalled at %llu of %llu\n", static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(total));
      break;
    }
    if (done < next) continue;
    Step s;
    s.done = done;
    const auto now = Clock::now();
    // The last step pays for the compactions its events leave behind, as every earlier step
    // paid for its predecessor's: wait until RocksDB reports no backlog (memtables are not
    // flushed, so a memtable's worth stays unpaid). Its time is not counted in its events/s.
    if (done >= total) s.settle_secs = settle(server);
    const double cpu = bench::cpu_seconds(server.pid());
    s.secs = std::chrono::duration<double>(now - last_t).count();
    s.cpu = cpu - last_cpu;
    s.rss = bench::status_mib(server.pid(), "VmRSS:");
    if (auto m = app::http_get(server.http_url() + "/metrics"); m && m->status == 200)
      s.compaction = bench::compaction_cpu_by_family(m->body);
    s.threads = bench::thread_cpu_seconds(server.pid());
    std::vector<double> lat;
    std::uniform_int_distribution<uint64_t> pick(0, done - 1);
    for (size_t i = 0; i < lookups; ++i) {
      const auto t0 = Clock::now();
      const int status = http.get("/v1/predictions/req-" + std::to_string(pick(rng)));
      lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      if (status != 200) ++s.misses;
    }
    s.lookups = lookups;
    s.p50_us = quantile(lat, 0.50);
    s.p99_us = quantile(lat, 0.99);
    // The step's CPU and time were taken before the lookups; the next step starts after them.
    last_cpu = bench::cpu_seconds(server.pid());
    last_t = Clock::now();
    steps.push_back(s);
    while (next <= done) next += step;
  }
  sender.join();
  return steps;
}

// Rows after the baseline row (steps[0]): each step's figures over that step alone.
void print(const char* what, const std::vector<Step>& steps) {
  std::printf("\n%s\n", what);
  std::printf("%10s %12s %14s %9s %12s %12s %7s  %s\n", "stored", "events/s", "server us/ev",
              "RSS MiB", "lookup p50", "lookup p99", "misses",
              "of which us/ev: compaction by family | by thread");
  for (size_t i = 1; i < steps.size(); ++i) {
    const Step& s = steps[i];
    const Step& prev = steps[i - 1];
    const double n = static_cast<double>(s.done - prev.done);
    std::printf("%10llu %12.0f %14.2f %9.0f %10.0fus %10.0fus %7zu ",
                static_cast<unsigned long long>(s.done), n / s.secs, s.cpu / n * 1e6, s.rss,
                s.p50_us, s.p99_us, s.misses);
    for (const auto& [family, secs] : s.compaction) {
      const auto before = prev.compaction.find(family);
      const double step_secs = secs - (before == prev.compaction.end() ? 0.0 : before->second);
      if (step_secs >= 0.005) std::printf(" %s %.2f", family.c_str(), step_secs / n * 1e6);
    }
    std::printf(" |");
    // Threads' CPU includes the lookups between steps (a few ms); a thread that ended is gone.
    for (const auto& [thread, secs] : s.threads) {
      const auto before = prev.threads.find(thread);
      const double step_secs = secs - (before == prev.threads.end() ? 0.0 : before->second);
      if (step_secs / n * 1e6 >= 0.1) std::printf(" %s %.1f", thread.c_str(), step_secs / n * 1e6);
    }
    std::printf("\n");
  }
  if (steps.size() >= 3) {
    const double first = steps[1].cpu / static_cast<double>(steps[1].done);
    const auto& b = steps[steps.size() - 2];
    const double last = steps.back().cpu / static_cast<double>(steps.back().done - b.done);
    if (steps.back().settle_secs < 0) {
      std::printf(
          "last step's CPU per event / first step's: %.2fx (the server does not report its "
          "compactions: the last step's are not all paid)\n",
          last / first);
    } else {
      std::printf(
          "last step's CPU per event / first step's: %.2fx (the last step includes the %.0f s "
          "its compactions took after its last event)\n",
          last / first, steps.back().settle_secs);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Cost per event as the store grows (one partition, one TCP connection)"};
  uint64_t events = 20'000'000, labels = 0, step = 1'000'000;
  size_t lookups = 1000;
  std::string extra, keep_data;
  app.add_option("--events,-n", events, "Predictions to store");
  app.add_option("--labels", labels, "Labels to send afterwards, for the first predictions");
  app.add_option("--step", step, "Events per row");
  app.add_option("--lookups", lookups, "Point lookups at each row");
  app.add_option("--config-extra", extra, "Extra YAML for the server config");
  app.add_option("--keep-data", keep_data,
                 "Store into this new directory and keep it (to read or profile it afterwards "
                 "with verity serve --data-dir)");
  CLI11_PARSE(app, argc, argv);
  step = std::max<uint64_t>(step, 1);

  // Yesterday (UTC), from 00:00: at most 2 ms apart, 20M events span under 12 hours.
  const EpochMillis day_ms = 86'400'000;
  const EpochMillis start = (std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                     .count() /
                                 day_ms -
                             1) *
                            day_ms;
  testing::TempDir dir;
  const std::filesystem::path data =
      keep_data.empty() ? dir.path() / "data" : std::filesystem::absolute(keep_data);
  if (!keep_data.empty() && std::filesystem::exists(data)) {
    std::fprintf(stderr, "--keep-data %s exists: give a new directory\n", keep_data.c_str());
    return 2;
  }
  testing::ServerProcess server(
      data,
      "log: {level: warn}\nstore: {seal_grace: 3650d, tiers: {warm: {after: 3650d}, cold: "
      "{after: 3650d}}}\n" +
          extra);
  server.start();
  std::printf(
      "verity-bench-growth: %llu predictions into %s over one TCP connection, %zu "
      "lookups per %llu\n",
      static_cast<unsigned long long>(events), store::partition_name(utc_day(start)).c_str(),
      lookups, static_cast<unsigned long long>(step));

  bench::PredictionGenerator gen(42, start, 2);
  const auto steps =
      run_phase(server, R"(verity_ingest_events_stored_total{input="tcp"})", 0, events, step,
                lookups, [&](uint64_t, std::string& out) { gen.next(out); });
  print("predictions", steps);

  if (labels > 0) {
    const double base = testing::scrape(server.http_url(), "verity_labels_joined_total");
    bench::PredictionGenerator again(42, start, 2);  // the same documents: read their label
    std::string doc;
    const auto label_steps =
        run_phase(server, "verity_labels_joined_total", base, std::min(labels, events), step,
                  lookups, [&](uint64_t i, std::string& out) {
                    doc.clear();
                    again.next(doc);
                    const bool fraud = doc.find("\"label\":\"fraud\"") != std::string::npos;
                    // One in five is wrong.
                    const bool truth = (i % 5 == 0) ? !fraud : fraud;
                    out += R"({"request_id":"req-)" + std::to_string(i) + R"(","ground_truth":")" +
                           (truth ? "fraud" : "legit") + "\"}";
                  });
    print("labels joined", label_steps);
  }
  std::printf("\nserver peak RSS %.0f MiB; disk %s\n", bench::status_mib(server.pid(), "VmHWM:"),
              testing::run_command("du -sh " + data.string() + " | cut -f1").output.c_str());
  return server.terminate() == 0 ? 0 : 1;
}
