#include "rocksdb_crc32c.h"

// x86-64 only (see the header): elsewhere RocksDB's own crc32c.cc links, with its own hardware
// paths (ARMv8 CRC, POWER8).
#if defined(__x86_64__)

#include <array>
#include <cstring>

#include <nmmintrin.h>

namespace rocksdb::crc32c {

namespace {

constexpr uint32_t kPoly = 0x82F63B78;  // Castagnoli, reflected

constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr auto kTable = make_table();

// The register update without the pre- and post-inversion.
uint32_t update_portable(uint32_t c, const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) c = kTable[(c ^ static_cast<uint8_t>(p[i])) & 0xff] ^ (c >> 8);
  return c;
}

__attribute__((target("sse4.2"))) uint32_t update_sse42(uint32_t crc, const char* p, size_t n) {
  uint64_t c = crc;
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), static_cast<uint8_t>(*p++));
    --n;
  }
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), static_cast<uint8_t>(*p++));
    --n;
  }
  return static_cast<uint32_t>(c);
}

const bool kHaveSse42 = __builtin_cpu_supports("sse4.2");

// a * b modulo the polynomial, both in the reflected representation (zlib's multmodp).
uint32_t multmodp(uint32_t a, uint32_t b) {
  uint32_t m = 1u << 31, p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) == 0) break;
    }
    m >>= 1;
    b = (b & 1) ? (b >> 1) ^ kPoly : b >> 1;
  }
  return p;
}

// x^(2^k) modulo the polynomial, k = 0..66 (enough for 8 * any size_t length).
std::array<uint32_t, 67> make_x2n() {
  std::array<uint32_t, 67> t{};
  uint32_t p = 1u << 30;  // x^1
  t[0] = p;
  for (size_t k = 1; k < t.size(); ++k) t[k] = p = multmodp(p, p);
  return t;
}

}  // namespace

uint32_t Extend(uint32_t init_crc, const char* data, size_t n) {
  if (kHaveSse42) return ~update_sse42(~init_crc, data, n);
  return ~update_portable(~init_crc, data, n);
}

uint32_t Crc32cCombine(uint32_t crc1, uint32_t crc2, size_t crc2len) {
  // CRC(A.B) = CRC(A) * x^(8|B|) ^ CRC(B): the inversions cancel (zlib's crc32_combine).
  static const std::array<uint32_t, 67> x2n = make_x2n();
  uint32_t shift = 1u << 31;  // x^0
  size_t k = 3;               // bytes to bits: x^(8n) = x^(n * 2^3)
  for (size_t n = crc2len; n != 0; n >>= 1, ++k) {
    if (n & 1) shift = multmodp(x2n[k], shift);
  }
  return multmodp(shift, crc1) ^ crc2;
}

std::string IsFastCrc32Supported() {
  return kHaveSse42 ? "Supported on x86 (verity: SSE4.2 crc32c)"
                    : "Not supported (verity: table-driven crc32c)";
}

}  // namespace rocksdb::crc32c

#endif  // __x86_64__
