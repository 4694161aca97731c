#include "verity/store/config_keys.h"

namespace verity::store {
namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr ByteSize kAny{UINT64_MAX};

// A number of whole days, written as a duration ("7d").
void days(config::Section& s, std::string_view name, uint32_t& v, std::string_view doc) {
  config::Key k;
  k.name = std::string(name);
  k.type = config::Type::kDuration;
  k.range = "whole days";
  k.doc = std::string(doc);
  k.get = [&v]() -> std::optional<config::Value> {
    if (v == 0) return std::string("0d");
    return format_duration(Duration(static_cast<int64_t>(v) * kDayMs));
  };
  k.set = [&v](const config::Value& value) -> std::string {
    const std::string* text = config::scalar_of(value);
    if (text == nullptr) return "expected a duration such as 500ms, 5s, 2m, 1h or 7d";
    auto d = parse_duration(*text);
    if (!d) return d.status().message();
    if (d->count() % kDayMs != 0 || d->count() < 0 || d->count() / kDayMs > 100'000) {
      return "must be a whole number of days, such as 30d";
    }
    v = static_cast<uint32_t>(d->count() / kDayMs);
    return "";
  };
  s.custom(std::move(k));
}

void declare_tier(config::Section& s, TierCompression& t, uint32_t& after_days) {
  days(s, "after", after_days, "");
  s.count("zstd_level", t.zstd_level, 1, 22, "");
  s.size("dictionary", t.dictionary_bytes, ByteSize{0}, ByteSize{1u << 20},
         "0 turns dictionaries off");
  s.size("block_size", t.block_size, ByteSize{1024}, ByteSize{4u << 20}, "");
}

}  // namespace

void declare_keys(config::Section& s, StoreOptions& o) {
  s.choice<SyncPolicy>(
      "sync", o.sync,
      {{"always", SyncPolicy::kAlways}, {"group", SyncPolicy::kGroup}, {"none", SyncPolicy::kNone}},
      "always: fsync each batch | group: one fsync per commit group | none: no "
      "fsync (survives kill -9, not power loss)");
  s.count("max_group_events", o.max_group_events, 1, 1'000'000,
          "most events written in one commit group");
  s.size("max_group_bytes", o.max_group_bytes, ByteSize{0}, kAny,
         "most bytes written in one commit group (at least one batch)");
  s.choice<WalCompression>("wal_compression", o.wal_compression,
                           {{"none", WalCompression::kNone}, {"zstd", WalCompression::kZstd}},
                           "the WAL is transient, so zstd only trades CPU for WAL bytes");
  s.size("max_queue_bytes", o.max_queue_bytes, ByteSize{0}, kAny,
         "inputs stop reading while more than this waits to be committed");
  s.size("block_cache", o.block_cache, ByteSize{0}, kAny, "RocksDB block cache");
  s.size("write_buffer", o.write_buffer, ByteSize{4ull << 20}, kAny,
         "memtable budget across all column families (a partition's memtable is an eighth of it)");
  s.duration("retry_interval", o.retry_interval, Duration(0),
             "wait between retries of a failed commit (disk full, I/O error)");
  declare_keys(s, o.retention);
}

void declare_keys(config::Section& s, RetentionOptions& r) {
  auto& tiers = s.child("tiers", "by partition age: days since the partition's UTC day ended");
  tiers.child("hot").choice<HotCompression>(
      "compression", r.hot_compression,
      {{"lz4", HotCompression::kLz4}, {"none", HotCompression::kNone}}, "");
  declare_tier(tiers.child("warm",
                           "recompacted with zstd and a dictionary RocksDB trains per "
                           "table file"),
               r.warm, r.warm_after_days);
  declare_tier(tiers.child("cold",
                           "a high zstd level and larger blocks: smallest on disk, "
                           "slower to read"),
               r.cold, r.cold_after_days);
  tiers.check([&r](config::Problems& p) {
    if (r.cold_after_days < r.warm_after_days) {
      p.add("cold", "after must not be earlier than warm.after");
    }
  });
  days(s, "delete_after", r.delete_after_days,
       "drop partitions this old, whole, unless under a legal hold; 0d: never");
  s.duration("seal_grace", r.seal_grace, Duration(0),
             "a partition is sealed (count + chain head recorded) this long after its day");
  s.duration("maintenance_interval", r.check_interval, Duration(1000),
             "how often the tier manager seals, moves and drops partitions");
  s.check([&r](config::Problems& p) {
    if (r.delete_after_days > 0 && r.delete_after_days <= r.cold_after_days) {
      p.add("delete_after", "must be later than tiers.cold.after (or 0: keep for ever)");
    }
  });
}

void declare_dead_letter_keys(config::Section& s, StoreOptions& o) {
  s.size(
      "max_bytes", o.dead_letter_max_bytes, ByteSize{0}, kAny,
      "the dead-letter store's size: past it the oldest entries go; far past it (1.5x, between two "
      "trims) new ones are only counted (verity_dead_letters_dropped_total{reason=\"cap\"})");
  s.duration("retention", o.dead_letter_retention, Duration(0),
             "entries older than this are removed (0d: kept for ever)");
}

void declare_label_keys(config::Section& s, StoreOptions& o) {
  s.duration("max_wait", o.label_max_wait, Duration(1),
             "a label whose prediction has not arrived this long after it is counted as orphaned "
             "(verity_labels_orphaned_total); it still joins if it comes");
}

void declare_audit_keys(config::Section& s, StoreOptions& o) {
  s.duration("reads_retention", o.read_audit_retention, Duration(0),
             "how long read audit entries are kept (0: for ever)");
}

}  // namespace verity::store
