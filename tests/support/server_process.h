#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "verity/core/units.h"

namespace verity::testing {

// A temporary directory removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Runs the real `verity serve` binary on free loopback ports with its own data dir, and captures
// its log. A restart (start() again) listens on the ports of the first run. Killed (SIGKILL) on
// destruction if still running.
class ServerProcess {
 public:
  // `extra_config` is YAML appended to a generated config file (data dir and ports are flags).
  explicit ServerProcess(std::filesystem::path data_dir, std::string extra_config = "");
  ~ServerProcess();

  // Starts and waits (up to 30 s) until the listeners are bound. Throws std::runtime_error
  // otherwise.
  void start();
  // Runs the server through `wrapper` (a program and its leading arguments, the verity command
  // line appended), e.g. tests/support/small_tmpfs.sh to give it a small disk.
  void set_wrapper(std::vector<std::string> wrapper) { wrapper_ = std::move(wrapper); }
  void kill9();
  // SIGTERM, then waits for the exit code (-1 when killed by a signal).
  int terminate(std::chrono::seconds timeout = std::chrono::seconds(60));
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  HostPort tcp() const { return tcp_; }
  HostPort http() const { return http_; }
  HostPort beats() const { return beats_; }
  std::string http_url() const { return "http://" + http_.to_string(); }
  std::string log() const;

 private:
  std::filesystem::path data_dir_;
  std::filesystem::path work_dir_;
  std::string extra_config_;
  std::vector<std::string> wrapper_;
  pid_t pid_ = -1;
  HostPort tcp_{"127.0.0.1", 0}, http_{"127.0.0.1", 0}, beats_{"127.0.0.1", 0};
  int runs_ = 0;
};

// Any other program run in the background for a test (a real Prometheus), its output kept in
// `log`. Killed (SIGKILL) on destruction.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, std::filesystem::path log);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  bool running() const;
  std::string log() const;

 private:
  std::filesystem::path log_;
  pid_t pid_;
};

// A loopback TCP port nothing listens on now (for programs that need one named up front).
uint16_t free_port();

}  // namespace verity::testing
