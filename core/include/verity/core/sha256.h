#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace verity {

using Sha256Digest = std::array<uint8_t, 32>;

// SHA-256 (OpenSSL). Thread-safe.
Sha256Digest sha256(std::string_view data);
std::string to_hex(const uint8_t* data, size_t n);
inline std::string to_hex(const Sha256Digest& d) { return to_hex(d.data(), d.size()); }
inline std::string sha256_hex(std::string_view data) { return to_hex(sha256(data)); }

}  // namespace verity
