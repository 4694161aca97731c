// The partition states on their own: defaults for unknown partitions, committed heads and models,
// erasures that do not bring back dropped partitions, seals and tiers, and loading from RocksDB.

#include "partition_states.h"

#include <gtest/gtest.h>

#include <filesystem>

#include <unistd.h>

#include <rocksdb/db.h>

#include "chain.h"
#include "verity/store/partition.h"

namespace verity::store {
namespace {

TEST(PartitionStatesTest, UnknownPartitionsReadAsEmptyAndHot) {
  PartitionStates s;
  EXPECT_FALSE(s.get(20260101).has_value());
  const ChainHead h = s.chain(20260101);
  const ChainHead empty = empty_chain(20260101);
  EXPECT_EQ(h.count, 0u);
  EXPECT_EQ(h.link, empty.link);
  EXPECT_EQ(s.tier(20260101), Tier::kHot);
  EXPECT_FALSE(s.has_model(20260101, "m"));
}

TEST(PartitionStatesTest, CommittedErasedSealedTieredForgotten) {
  PartitionStates s;
  s.add(20260101);
  ChainHead h = empty_chain(20260101);
  h.count = 5;
  h.last_sequence = 9;
  std::unordered_map<uint32_t, ChainHead> heads{{20260101, h}};
  s.committed(heads, {{20260101, "fraud"}});
  EXPECT_EQ(s.chain(20260101).count, 5u);
  EXPECT_TRUE(s.has_model(20260101, "fraud"));
  EXPECT_FALSE(s.has_model(20260101, "fraud2"));
  s.sealed(20260101, 1, 5);
  s.add(20260101);  // made again (a family dropped and created anew): an empty chain
  EXPECT_EQ(s.chain(20260101).count, 0u);
  EXPECT_EQ(s.get(20260101)->seals, 1u);
  s.committed(heads, {});

  s.sealed(20260101, 1, 5);
  s.set_tier(20260101, Tier::kWarm);
  auto p = s.get(20260101);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->seals, 1u);
  EXPECT_EQ(p->sealed_count, 5u);
  EXPECT_EQ(p->tier, Tier::kWarm);

  ChainHead erased = h;
  erased.erased = 2;
  s.forget(20260101);
  s.erased({{20260101, erased}});  // dropped meanwhile: not brought back
  EXPECT_FALSE(s.get(20260101).has_value());
  s.add(20260102);
  s.erased({{20260102, erased}});
  EXPECT_EQ(s.chain(20260102).erased, 2u);
  EXPECT_EQ(s.all().size(), 1u);
}

TEST(PartitionStatesTest, LoadsHeadsSealsModelsAndTiersAndFindsOrphans) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("verity-partition-states-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(o, dir.string(), &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::ColumnFamilyHandle* chain_cf = nullptr;
  ASSERT_TRUE(db->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), "chain", &chain_cf).ok());
  auto* meta = db->DefaultColumnFamily();

  ChainHead h = empty_chain(20260101);
  h.count = 3;
  h.last_sequence = 12;
  ChainHead orphan = empty_chain(20251231);
  orphan.count = 1;
  Seal seal;
  seal.count = 3;
  seal.last_sequence = 12;
  seal.link = h.link;
  ASSERT_TRUE(db->Put({}, meta, head_key(20260101), encode_head(h)).ok());
  ASSERT_TRUE(db->Put({}, meta, head_key(20251231), encode_head(orphan)).ok());
  ASSERT_TRUE(db->Put({}, chain_cf, seal_key(20260101, 0), encode_seal(seal)).ok());
  ASSERT_TRUE(db->Put({}, meta, std::string(kModelPrefix) + "p_20260101/fraud", "").ok());
  ASSERT_TRUE(db->Put({}, meta, std::string(kModelPrefix) + "p_20260102/churn", "").ok());
  ASSERT_TRUE(db->Put({}, meta, std::string(kTierPrefix) + "p_20260101", "cold").ok());
  ASSERT_TRUE(db->Put({}, meta, std::string(kTierPrefix) + "p_20260102", "lukewarm").ok());

  PartitionStates s;
  std::vector<uint32_t> orphans;
  ASSERT_TRUE(s.load(*db, chain_cf, meta, {20260101, 20260102}, orphans));
  EXPECT_EQ(orphans, std::vector<uint32_t>{20251231});
  auto p = s.get(20260101);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->chain.count, 3u);
  EXPECT_EQ(p->chain.last_sequence, 12u);
  EXPECT_EQ(p->seals, 1u);
  EXPECT_EQ(p->sealed_count, 3u);
  EXPECT_EQ(p->tier, Tier::kCold);
  EXPECT_EQ(p->models, std::set<std::string>{"fraud"});
  auto q = s.get(20260102);  // no head yet: an empty chain; an unknown tier name stays hot
  ASSERT_TRUE(q);
  EXPECT_EQ(q->chain.count, 0u);
  EXPECT_EQ(q->chain.link, empty_chain(20260102).link);
  EXPECT_EQ(q->tier, Tier::kHot);
  EXPECT_TRUE(s.has_model(20260102, "churn"));
  EXPECT_FALSE(s.get(20251231).has_value());

  ASSERT_TRUE(db->DestroyColumnFamilyHandle(chain_cf).ok());
  db.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace verity::store
