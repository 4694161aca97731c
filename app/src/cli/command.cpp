#include "command.h"

#include <iomanip>
#include <iostream>
#include <sstream>

namespace verity::cli {

void Client::attach(CLI::App* cmd, const char* token_help) {
  cmd->add_option("--server", server, "Verity HTTP API base URL");
  cmd->add_option("--token", token, token_help)->envname("VERITY_TOKEN");
  cmd->add_option("--cacert", cacert, "CA file (PEM) to trust for an https --server");
}

const app::HttpTls* Client::tls() const {
  if (cacert.empty()) return nullptr;
  tls_.ca_file = cacert;
  return &tls_;
}

std::string Client::base() const {
  std::string b = server;
  while (!b.empty() && b.back() == '/') b.pop_back();
  return b;
}

int Client::call(const std::string& method, const std::string& path, const std::string& body,
                 const char* command, std::string* out) const {
  std::vector<std::string> headers;
  if (!token.empty()) headers.push_back("Authorization: Bearer " + token);
  if (!body.empty()) headers.push_back("Content-Type: application/json");
  auto res = app::http_request(method, base() + path, body, headers, 10'000, tls());
  if (!res) {
    std::cerr << "verity " << command << ": " << res.status().message() << "\n";
    return -1;
  }
  std::string text = res->body;
  if (!text.empty() && text.back() != '\n') text += "\n";
  if (res->status / 100 == 2) {
    if (out != nullptr) {
      *out = std::move(res->body);
    } else {
      std::cout << text;
    }
  } else {
    std::cerr << "verity " << command << ": HTTP " << res->status << ": " << text;
  }
  return res->status;
}

int exit_code(int status) { return status / 100 == 2 ? 0 : status == 404 ? 1 : 3; }

std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  std::ostringstream s;
  s << std::fixed << std::setprecision(u == 0 ? 0 : 1) << v << " " << units[u];
  return s.str();
}

bool load_config(const std::string& path, app::Config& out) {
  auto c = path.empty() ? app::parse_config("") : app::load_config_file(path);
  if (!c) {
    std::cerr << "verity: invalid configuration:\n" << c.status().message() << "\n";
    return false;
  }
  out = std::move(c).value();
  return true;
}

}  // namespace verity::cli
