// The CRC32C that replaces Debian RocksDB's table-driven one (store/src/rocksdb_crc32c.cpp): the
// link takes it, it agrees with the definition bit for bit on every length and alignment, and
// RocksDB's own write-ahead log, written and read back with it, still verifies.
#include "rocksdb_crc32c.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <random>
#include <string>

#include "seed.h"

namespace rocksdb::crc32c {
namespace {

// The definition: one bit at a time.
uint32_t bitwise(uint32_t crc, const std::string& s) {
  crc = ~crc;
  for (unsigned char b : s) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78 : crc >> 1;
  }
  return ~crc;
}

TEST(RocksdbCrc32c, TheLinkTakesVeritysAndItMatchesTheCheckValue) {
#if defined(__x86_64__)
  EXPECT_NE(IsFastCrc32Supported().find("verity"), std::string::npos) << IsFastCrc32Supported();
#endif
  EXPECT_EQ(Extend(0, "123456789", 9), 0xE3069283u);  // CRC-32C's published check value
  EXPECT_EQ(Extend(0, "", 0), 0u);
}

TEST(RocksdbCrc32c, AgreesWithTheBitwiseDefinitionAndCombines) {
  const uint64_t seed = verity::testing::test_seed();
  SCOPED_TRACE(verity::testing::seed_trace(seed));
  std::mt19937_64 rng(seed);
  std::string buf(4096 + 16, '\0');
  for (int round = 0; round < 2000; ++round) {
    for (auto& c : buf) c = static_cast<char>(rng());
    const size_t offset = rng() % 16, n = rng() % 3 == 0 ? rng() % 4096 : rng() % 40;
    const std::string a = buf.substr(offset, n);
    const uint32_t init = rng() % 2 ? 0 : static_cast<uint32_t>(rng());
    ASSERT_EQ(Extend(init, buf.data() + offset, n), bitwise(init, a)) << offset << " " << n;
    const size_t cut = n == 0 ? 0 : rng() % (n + 1);
    const uint32_t left = Extend(0, a.data(), cut), right = Extend(0, a.data() + cut, n - cut);
    ASSERT_EQ(Extend(left, a.data() + cut, n - cut), Extend(0, a.data(), n));
    ASSERT_EQ(Crc32cCombine(left, right, n - cut), Extend(0, a.data(), n)) << cut << " " << n;
  }
  // Lengths up to 2^32 bits (512 MiB of zeros), their CRC by doubling, against extending directly.
  std::string zeros(1 << 20, '\0');
  uint32_t z = Extend(0, zeros.data(), zeros.size());
  size_t len = zeros.size();
  for (int i = 0; i < 9; ++i) {  // 1 MiB -> 512 MiB
    z = Crc32cCombine(z, z, len);
    len *= 2;
  }
  uint32_t direct = 0;
  for (size_t done = 0; done < len; done += zeros.size()) {
    direct = Extend(direct, zeros.data(), zeros.size());
  }
  EXPECT_EQ(z, direct);
  uint32_t prefixed = Extend(0, "1234", 4);
  for (size_t done = 0; done < len; done += zeros.size()) {
    prefixed = Extend(prefixed, zeros.data(), zeros.size());
  }
  EXPECT_EQ(Crc32cCombine(Extend(0, "1234", 4), z, len), prefixed);
}

// RocksDB checksums each WAL record with Extend and checks it on recovery: values written, the
// process's handle dropped without a flush, reopened: every value is back (a checksum mismatch
// would drop them or fail the open under kPointInTimeRecovery).
TEST(RocksdbCrc32c, RocksdbRecoversItsWriteAheadLog) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("verity_crc32c_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  rocksdb::Options o;
  o.create_if_missing = true;
  o.avoid_flush_during_shutdown = true;
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kAbsoluteConsistency;
  {
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir.string(), &db).ok());
    for (int i = 0; i < 1000; ++i) {
      ASSERT_TRUE(db->Put({}, "k" + std::to_string(i), std::string(i % 300, 'v')).ok());
    }
    delete db;
  }
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(o, dir.string(), &db).ok());
  for (int i = 0; i < 1000; ++i) {
    std::string v;
    ASSERT_TRUE(db->Get({}, "k" + std::to_string(i), &v).ok()) << i;
    EXPECT_EQ(v, std::string(i % 300, 'v'));
  }
  delete db;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace rocksdb::crc32c
