#include "verity/core/sha256.h"

// The SHA256_* functions are deprecated in OpenSSL 3 in favour of EVP, whose per-call overhead
// (an algorithm fetch, a context allocation) shows on the small inputs hashed per event.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <simdjson.h>

namespace verity {

Sha256Digest sha256(std::string_view data) {
  // Not the one-shot SHA256(): in OpenSSL 3 it fetches the algorithm by name on every call
  // (EVP_Q_digest -> EVP_MD_fetch), ~40% of hashing a 700-byte record (perf, 2026-12-01).
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, data.data(), data.size());
  Sha256Digest d;
  SHA256_Final(d.data(), &ctx);
  return d;
}

namespace {

// The whitespace-skipping walk itself: a reference for the fast path below, and its fallback.
Sha256Digest canonical_walk(std::string_view json) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  size_t run = 0;  // start of the bytes not hashed yet
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, whatever it is
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (i > run) SHA256_Update(&ctx, json.data() + run, i - run);
      run = i + 1;
    }
  }
  if (json.size() > run) SHA256_Update(&ctx, json.data() + run, json.size() - run);
  Sha256Digest d;
  SHA256_Final(d.data(), &ctx);
  return d;
}

}  // namespace

Sha256Digest sha256_json_canonical_reference(std::string_view json) { return canonical_walk(json); }

Sha256Digest sha256_json_canonical(std::string_view json) {
  // simdjson's minifier drops the same bytes (JSON whitespace outside strings) with SIMD, ~10x
  // faster than the walk; one hash of its output follows. It refuses what it cannot tokenize
  // (an unterminated string): the walk takes those.
  // Documents past 256 KiB take the walk: each thread's buffer stays that small whatever the
  // largest line it has seen (up to input.max_line).
  constexpr size_t kMaxMinified = 256 * 1024;
  if (json.size() > kMaxMinified) return canonical_walk(json);
  thread_local std::string minified;
  if (minified.size() < json.size()) minified.resize(json.size());
  size_t n = 0;
  if (simdjson::minify(json.data(), json.size(), minified.data(), n) != simdjson::SUCCESS ||
      n > json.size()) {
    return canonical_walk(json);
  }
  return sha256(std::string_view(minified.data(), n));
}

std::string to_hex(const uint8_t* data, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[data[i] >> 4];
    out[2 * i + 1] = kHex[data[i] & 15];
  }
  return out;
}

}  // namespace verity
