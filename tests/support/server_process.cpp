#include "server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace verity::testing {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::random_device rd;
  path_ = fs::temp_directory_path() /
          ("verity_it_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

ServerProcess::ServerProcess(fs::path data_dir, std::string extra_config)
    : data_dir_(std::move(data_dir)), extra_config_(std::move(extra_config)) {
  work_dir_ = data_dir_.parent_path() / (data_dir_.filename().string() + "_run");
  fs::create_directories(work_dir_);
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) kill9();
}

namespace {

// Reads a host:port value out of the one-line port file JSON.
HostPort field(const std::string& json, const std::string& name) {
  const std::string key = "\"" + name + "\":\"";
  const size_t at = json.find(key);
  if (at == std::string::npos) throw std::runtime_error("port file lacks " + name + ": " + json);
  const size_t start = at + key.size();
  const size_t end = json.find('"', start);
  auto hp = parse_host_port(json.substr(start, end - start));
  if (!hp) throw std::runtime_error("bad address in port file: " + json);
  return *hp;
}

// Starts `argv` with stdout and stderr appended to `log`.
pid_t spawn(const std::vector<std::string>& argv, const fs::path& log) {
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<const char*> args;
    for (const auto& a : argv) args.push_back(a.c_str());
    args.push_back(nullptr);
    ::execvp(args[0], const_cast<char* const*>(args.data()));
    ::_exit(127);
  }
  return pid;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& argv, fs::path log)
    : log_(std::move(log)), pid_(spawn(argv, log_)) {}

ChildProcess::~ChildProcess() {
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
}

bool ChildProcess::running() const {
  int status = 0;
  return ::waitpid(pid_, &status, WNOHANG) == 0;
}

std::string ChildProcess::log() const { return read_file(log_); }

uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    throw std::runtime_error("cannot find a free port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

void ServerProcess::start() {
  ++runs_;
  const fs::path config = work_dir_ / "verity.yaml";
  const fs::path ports = work_dir_ / "ports.json";
  const fs::path log = work_dir_ / "server.log";
  fs::remove(ports);
  {
    std::ofstream out(config);
    out << extra_config_ << "\n";
  }
  // A restart listens where the first run did, so that clients can reconnect.
  auto port = [&](const HostPort& hp) { return "127.0.0.1:" + std::to_string(hp.port); };
  std::vector<std::string> argv = wrapper_;
  for (std::string arg :
       {std::string(VERITY_BINARY), std::string("serve"), std::string("--config"), config.string(),
        std::string("--data-dir"), data_dir_.string(), std::string("--tcp-listen"), port(tcp_),
        std::string("--http-listen"), port(http_), std::string("--beats-listen"), port(beats_),
        std::string("--port-file"), ports.string()}) {
    argv.push_back(std::move(arg));
  }
  const pid_t pid = spawn(argv, log);
  pid_ = pid;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("verity exited during start-up:\n" + this->log());
    }
    std::ifstream in(ports);
    std::string json;
    if (in && std::getline(in, json) && !json.empty()) {
      tcp_ = field(json, "tcp");
      http_ = field(json, "http");
      if (json.find("\"beats\"") != std::string::npos) beats_ = field(json, "beats");
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling the port file
  }
  kill9();
  throw std::runtime_error("verity did not start within 30 s:\n" + this->log());
}

void ServerProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

int ServerProcess::terminate(std::chrono::seconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling for the exit
  }
  kill9();
  return -2;
}

std::string ServerProcess::log() const { return read_file(work_dir_ / "server.log"); }

}  // namespace verity::testing
