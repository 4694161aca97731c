#include "verity/app/masking_setup.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "verity/core/sha256.h"

namespace verity::app {
namespace {

Result<std::string> read_key(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::invalid_argument("masking.key_file: cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string key = ss.str();
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ')) {
    key.pop_back();
  }
  if (key.size() < 16) {
    return Status::invalid_argument("masking.key_file: " + path +
                                    " holds fewer than 16 bytes; use a longer random key");
  }
  return key;
}

Result<std::string> create_key_file(const std::string& path) {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return Status::internal("cannot generate a masking key");
  const std::string key = to_hex(raw, sizeof raw);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return read_key(path);  // created meanwhile, or unwritable: reading says which
  const std::string line = key + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return Status::unavailable("masking: cannot write the key file " + path, false);
  return key;
}

}  // namespace

Result<std::shared_ptr<const ingest::Masker>> build_masker(const Config& config, bool create_key) {
  if (!config.masking_enabled) return std::shared_ptr<const ingest::Masker>();
  const std::string path = config.masking_key_path();
  std::string key;
  if (!config.masking_key_file.empty()) {
    auto k = read_key(path);
    if (!k) return k.status();
    key = std::move(k).value();
  } else if (std::filesystem::exists(path)) {
    auto k = read_key(path);
    if (!k) return k.status();
    key = std::move(k).value();
  } else if (create_key) {
    auto k = create_key_file(path);
    if (!k) return k.status();
    key = std::move(k).value();
  } else {
    key = "check-config placeholder key";  // only compiles the policy; nothing is masked with it
  }
  const ingest::MaskingConfig mc = config.masking_config();
  return ingest::Masker::create(mc, std::move(key),
                                ingest::rules_hash_request_ids(mc, config.field_mappings()));
}

}  // namespace verity::app
