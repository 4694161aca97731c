#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace verity {

using Sha256Digest = std::array<uint8_t, 32>;

// SHA-256 (OpenSSL). Thread-safe.
Sha256Digest sha256(std::string_view data);
// SHA-256 of a JSON text with its insignificant whitespace left out (spaces, tabs and line breaks
// outside strings): the same document from two serializers that differ only in whitespace has one
// digest. For valid JSON only; equals sha256(json) when the text has no such whitespace.
Sha256Digest sha256_json_canonical(std::string_view json);
// The same digest by a plain byte walk (sha256_json_canonical minifies with SIMD first): the
// definition the tests hold the fast path to.
Sha256Digest sha256_json_canonical_reference(std::string_view json);
std::string to_hex(const uint8_t* data, size_t n);
inline std::string to_hex(const Sha256Digest& d) { return to_hex(d.data(), d.size()); }
inline std::string sha256_hex(std::string_view data) { return to_hex(sha256(data)); }

}  // namespace verity
