#pragma once

// RocksDB's CRC32C entry points (util/crc32c.h, not installed by Debian), defined again in
// rocksdb_crc32c.cpp with the SSE4.2 instruction.
//
// Why: Debian builds RocksDB portable (no -msse4.2), so its crc32c.cc holds only the table-driven
// Slow_CRC32, and every write-ahead-log record is checksummed with it: ~8% of the commit thread's
// CPU (perf, 2026-12-01). These three functions are the only global symbols of that archive member;
// linked first (database.cpp calls IsFastCrc32Supported, which pulls this file out of
// libverity_store.a), they leave the member unused. A RocksDB whose crc32c.cc defines more symbols
// fails the link with "multiple definition" rather than mixing the two. On x86-64 only; other
// machines link RocksDB's own (its ARMv8 and POWER8 paths detect their instructions at run time).

#include <cstddef>
#include <cstdint>
#include <string>

namespace rocksdb::crc32c {

// The CRC32C of A followed by data[0, n), given init_crc = the CRC32C of A.
uint32_t Extend(uint32_t init_crc, const char* data, size_t n);
// The CRC32C of A followed by B from crc1 = CRC32C(A), crc2 = CRC32C(B) and crc2len = |B|.
uint32_t Crc32cCombine(uint32_t crc1, uint32_t crc2, size_t crc2len);
// Which implementation runs, in words (RocksDB logs it with its options).
std::string IsFastCrc32Supported();

}  // namespace rocksdb::crc32c
