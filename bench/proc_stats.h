#pragma once
// A process's CPU time and memory as the benchmarks read them from /proc (Linux).

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>

namespace verity::bench {

// CPU seconds (user + system) from a /proc stat file (a process's or a thread's).
inline double stat_cpu_seconds(const std::string& path) {
  std::ifstream in(path);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(s.substr(s.rfind(')') + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU seconds (user + system) of `pid`, from /proc/<pid>/stat.
inline double cpu_seconds(pid_t pid) {
  return stat_cpu_seconds("/proc/" + std::to_string(pid) + "/stat");
}

// CPU seconds of `pid`'s threads by name (/proc/<pid>/task/*/comm), threads of one pool summed:
// trailing digits are dropped (verity-io-0 and verity-io-1 are verity-io-). The server's threads
// are named (verity-commit, verity-walsync, ...), RocksDB's too (rocksdb:low, rocksdb:high).
// Threads that ended are not counted.
inline std::map<std::string, double> thread_cpu_seconds(pid_t pid) {
  std::map<std::string, double> out;
  std::error_code ec;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (!std::getline(comm, name)) continue;
    while (!name.empty() && name.back() >= '0' && name.back() <= '9') name.pop_back();
    out[name] += stat_cpu_seconds((task.path() / "stat").string());
  }
  return out;
}

// A kB line of /proc/<pid>/status ("VmRSS:", "VmHWM:") in MiB; 0 when absent.
inline double status_mib(pid_t pid, const char* key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(std::strlen(key))) / 1024.0;
  }
  return 0;
}

// RocksDB's compaction CPU seconds per column family, from a /metrics text
// (verity_store_compaction_cpu_seconds_total{family="..."}; every partition is
// family="partitions").
inline std::map<std::string, double> compaction_cpu_by_family(const std::string& metrics) {
  std::map<std::string, double> out;
  const std::string prefix = "verity_store_compaction_cpu_seconds_total{family=\"";
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(prefix, 0) != 0) continue;
    const auto end = line.find('"', prefix.size());
    const auto space = line.rfind(' ');
    if (end == std::string::npos || space == std::string::npos) continue;
    out[line.substr(prefix.size(), end - prefix.size())] =
        std::strtod(line.c_str() + space + 1, nullptr);
  }
  return out;
}

}  // namespace verity::bench
