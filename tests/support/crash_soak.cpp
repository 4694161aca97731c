#include "crash_soak.h"

#include <rocksdb/db.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_set>
#include <vector>

#include "raw_rocksdb.h"
#include "server_process.h"
#include "test_client.h"
#include "verity/app/http_client.h"

namespace verity::testing {

namespace {

// Every acknowledged id is looked up in the `ids` family; records are counted in the partitions.
void check_store(const std::filesystem::path& data, const std::vector<std::string>& acked,
                 SoakResult& r) {
  std::vector<std::string> families;
  if (!rocksdb::DB::ListColumnFamilies(rocksdb::Options(), data.string(), &families).ok()) {
    throw std::runtime_error("cannot list column families in " + data.string());
  }
  const auto descriptors = verity::test::raw_descriptors(families);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), data.string(), descriptors, &handles, &db)
           .ok()) {
    throw std::runtime_error("cannot open " + data.string() + " read-only");
  }
  rocksdb::ColumnFamilyHandle* ids = nullptr;
  uint64_t id_entries = 0;
  for (auto* h : handles) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), h));
    const bool partition = h->GetName().rfind("p_", 0) == 0;
    if (h->GetName() == "ids") ids = h;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (partition) ++r.stored;
      if (h->GetName() == "ids") ++id_entries;
    }
  }
  for (const auto& id : acked) {
    std::string value;
    if (ids == nullptr || !db->Get(rocksdb::ReadOptions(), ids, id, &value).ok()) {
      if (r.lost++ == 0) r.first_lost = id;
    }
  }
  r.duplicates = r.stored > id_entries ? r.stored - id_entries : 0;
  for (auto* h : handles) (void)db->DestroyColumnFamilyHandle(h);
  delete db;
}

}  // namespace

SoakResult run_crash_soak(const std::filesystem::path& data_dir, const SoakOptions& o) {
  SoakResult result;
  std::mt19937 rng(o.seed);
  std::vector<std::string> acked;
  std::mutex mu;
  ServerProcess server(data_dir, "log: {level: warn}");
  for (int iteration = 0; iteration < o.iterations; ++iteration) {
    server.start();
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < o.clients; ++c) {
      clients.emplace_back([&, c] {
        for (uint64_t request = 0; !stop.load(); ++request) {
          std::vector<std::string> ids;
          std::string body;
          for (int i = 0; i < o.lines_per_request; ++i) {
            ids.push_back("soak-" + std::to_string(iteration) + "-" + std::to_string(c) + "-" +
                          std::to_string(request) + "-" + std::to_string(i));
            body += prediction_line(ids.back()) + "\n";
          }
          auto res =
              app::http_request("POST", server.http_url() + "/v1/predictions", body, {}, 30'000);
          if (!res.is_ok()) return;  // the server died: this request's fate is unknown
          if (res->status != 200) continue;
          std::lock_guard lock(mu);
          acked.insert(acked.end(), ids.begin(), ids.end());
        }
      });
    }
    std::uniform_int_distribution<int64_t> delay(o.min_run.count(), o.max_run.count());
    std::this_thread::sleep_for(std::chrono::milliseconds(delay(rng)));
    server.kill9();
    stop = true;
    for (auto& t : clients) t.join();
    ++result.iterations;
  }
  if (o.torn_tail) {
    std::filesystem::path newest;
    for (const auto& e : std::filesystem::directory_iterator(data_dir)) {
      if (e.path().extension() == ".log" &&
          (newest.empty() || e.path().filename() > newest.filename())) {
        newest = e.path();
      }
    }
    if (newest.empty()) throw std::runtime_error("no write-ahead log in " + data_dir.string());
    std::ofstream wal(newest, std::ios::binary | std::ios::app);
    std::string garbage(777, '\0');
    for (auto& ch : garbage) ch = static_cast<char>(rng());
    wal << garbage;
  }
  // One clean start and stop replays the WAL of the last kill and leaves the store closed.
  server.start();
  auto verified = app::http_request("POST", server.http_url() + "/v1/verify", "", {}, 600'000);
  if (verified.is_ok()) {
    result.verify_report = verified->body;
    result.chains_ok = verified->status == 200 && verified->body.rfind("{\"ok\":true", 0) == 0;
  } else {
    result.verify_report = verified.status().to_string();
  }
  if (server.terminate() != 0) throw std::runtime_error("verity did not stop cleanly");
  result.acknowledged = acked.size();
  check_store(data_dir, acked, result);
  return result;
}

}  // namespace verity::testing
