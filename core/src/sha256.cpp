#include "verity/core/sha256.h"

// The SHA256_* functions are deprecated in OpenSSL 3 in favour of EVP; the canonical digest feeds
// many small runs, where EVP's per-call overhead shows.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

namespace verity {

Sha256Digest sha256(std::string_view data) {
  Sha256Digest d;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d.data());
  return d;
}

Sha256Digest sha256_json_canonical(std::string_view json) {
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
