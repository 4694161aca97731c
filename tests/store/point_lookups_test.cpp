// PointLookups (database.h): the commit thread's batched MultiGet. Checked against one Get per key
// over generated keys (present in the memtable, in table files, in both families, absent,
// repeated, empty, binary), and its values outlive the database they were read from.
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "database.h"
#include "seed.h"

namespace verity::store {
namespace {

std::string random_key(std::mt19937_64& rng) {
  switch (rng() % 5) {
    case 0:
      return "";
    case 1: {  // binary, NULs included
      std::string k(1 + rng() % 40, '\0');
      for (auto& c : k) c = static_cast<char>(rng() % 256);
      return k;
    }
    case 2:
      return std::string(200 + rng() % 200, static_cast<char>('a' + rng() % 3));
    default:
      return "req-" + std::to_string(rng() % 3000);  // a small space: repeats and hits
  }
}

TEST(PointLookups, AgreeWithOneGetPerKeyAndTheirValuesOutliveTheDatabase) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  std::mt19937_64 rng(seed);
  char tmpl[] = "/tmp/verity_point_lookups_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;

  rocksdb::Options o;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {"second", rocksdb::ColumnFamilyOptions()}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(o, dir, families, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);

  // Half the keys go to table files (flushed), the rest stay in the memtables.
  std::map<std::pair<int, std::string>, std::string> stored;
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 1500; ++i) {
      const int cf = static_cast<int>(rng() % 2);
      const std::string key = random_key(rng);
      const std::string value(rng() % 3 == 0 ? 0 : 1 + rng() % 5000, static_cast<char>(i));
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[cf], key, value).ok());
      stored[{cf, key}] = value;
    }
    if (round == 0) {
      ASSERT_TRUE(db->Flush(rocksdb::FlushOptions(), handles).ok());
    }
  }

  PointLookups lookups;
  std::vector<std::pair<int, std::string>> asked;
  std::vector<std::string> expected_value;
  std::vector<bool> expected_found;
  for (int group = 0; group < 5; ++group) {
    lookups.clear();
    asked.clear();
    const size_t n = group == 0 ? 0 : rng() % 2000;  // an empty group too
    asked.reserve(n);  // the keys' bytes must stay put while the lookups use them
    for (size_t k = 0; k < n; ++k) {
      asked.emplace_back(static_cast<int>(rng() % 2), random_key(rng));
      lookups.add(handles[asked.back().first], asked.back().second);
    }
    lookups.run(*db);
    ASSERT_EQ(lookups.size(), n);
    expected_value.assign(n, "");
    expected_found.assign(n, false);
    for (size_t k = 0; k < n; ++k) {
      std::string v;
      const auto s = db->Get(rocksdb::ReadOptions(), handles[asked[k].first], asked[k].second, &v);
      ASSERT_TRUE(s.ok() || s.IsNotFound()) << s.ToString();
      expected_found[k] = s.ok();
      expected_value[k] = v;
      ASSERT_EQ(s.ok(), stored.count(asked[k]) == 1);
      ASSERT_EQ(lookups.status(k).ok(), s.ok())
          << "key " << k << ": " << lookups.status(k).ToString();
      if (s.ok()) {
        ASSERT_EQ(lookups.value(k), v) << "key " << k;
      } else {
        ASSERT_TRUE(lookups.status(k).IsNotFound());
      }
    }
  }

  // The last group's values are still readable once the database is gone.
  for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  ASSERT_TRUE(db->Close().ok());
  db.reset();
  for (size_t k = 0; k < lookups.size(); ++k) {
    if (expected_found[k]) {
      EXPECT_EQ(lookups.value(k), expected_value[k]) << "key " << k;
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace verity::store
