#include "time_index.h"

#include <spdlog/spdlog.h>

#include "record_codec.h"
#include "search_keys.h"
#include "store_impl.h"

namespace verity::store {

std::string time_index_day(uint32_t day) {
  std::string k;
  put_be(k, day, 4);
  return k;
}

std::string time_index_slot(uint32_t day, uint32_t slot) {
  std::string k = time_index_day(day);
  k += static_cast<char>(slot);
  return k;
}

uint32_t time_slot(EpochMillis ts) {
  constexpr EpochMillis kDay = kTimeSlotMillis * kTimeSlotsPerDay;
  static_assert(kDay == 86'400'000);
  const EpochMillis in_day = ((ts % kDay) + kDay) % kDay;
  return static_cast<uint32_t>(in_day / kTimeSlotMillis);
}

std::string time_index_group(uint32_t day, uint32_t slot, std::string_view model,
                             std::string_view version) {
  std::string k;
  k.reserve(5 + model.size() + version.size() + 4);
  append_time_index_group(k, day, slot, model, version);
  return k;
}

void append_time_index_group(std::string& out, uint32_t day, uint32_t slot, std::string_view model,
                             std::string_view version) {
  put_be(out, day, 4);
  out += static_cast<char>(slot);
  put_varint(out, model.size());
  out.append(model);
  put_varint(out, version.size());
  out.append(version);
}

void put_time(std::string& out, EpochMillis ts) {
  put_be(out, static_cast<uint64_t>(ts) ^ (uint64_t{1} << 63), 8);
}

std::string time_index_key(uint32_t day, std::string_view model, std::string_view version,
                           EpochMillis ts, std::string_view request_id) {
  std::string k;
  k.reserve(5 + model.size() + version.size() + 4 + 8 + request_id.size());
  append_time_index_key(k, day, model, version, ts, request_id);
  return k;
}

void append_time_index_key(std::string& out, uint32_t day, std::string_view model,
                           std::string_view version, EpochMillis ts, std::string_view request_id) {
  append_time_index_group(out, day, time_slot(ts), model, version);
  put_time(out, ts);
  out.append(request_id);
}

bool parse_time_index_key(std::string_view key, TimeIndexKey& out) {
  if (key.size() < 5) return false;
  out.day = static_cast<uint32_t>(get_be(key, 4));
  out.slot = static_cast<uint8_t>(key[4]);
  std::string_view rest = key.substr(5);
  uint64_t n = 0;
  if (!get_varint(rest, n) || n > rest.size()) return false;
  out.model = rest.substr(0, n);
  rest.remove_prefix(n);
  if (!get_varint(rest, n) || n > rest.size()) return false;
  out.version = rest.substr(0, n);
  rest.remove_prefix(n);
  if (rest.size() < 8) return false;
  out.group_size = key.size() - rest.size();
  out.ts = static_cast<EpochMillis>(get_be(rest, 8) ^ (uint64_t{1} << 63));
  out.request_id = rest.substr(8);
  return true;
}

std::string prefix_successor(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty()) {
    auto& c = reinterpret_cast<unsigned char&>(s.back());
    if (c != 0xff) {
      ++c;
      return s;
    }
    s.pop_back();
  }
  return s;
}

}  // namespace verity::store

namespace verity::store {

Status Store::Impl::build_time_index() {
  std::string marker;
  auto s = db->Get(rocksdb::ReadOptions(), meta, kTimeIndexBuiltKey, &marker);
  if (s.ok()) return Status::ok();
  if (!s.IsNotFound()) return from_rocksdb(s, "reading the time index marker");
  // A store written before the time index, or before its slots: index every stored record
  // (tombstones too), a partition at a time, before the commit thread starts. Entries of the
  // older layout go first, with the search index spec: the field index and the block summaries
  // share the time index's group prefix, so build_search_index() (next) builds them again. A
  // crash before the marker below does it all again at the next open.
  {
    rocksdb::WriteBatch wb;
    (void)wb.DeleteRange(by_time, std::string(4, '\0'), std::string(8, '\xff'));
    (void)wb.Delete(meta, kSearchIndexSpecKey);
    (void)wb.Delete(meta, kTimeIndexUnslottedKey);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    if (s = db->Write(wo, &wb); !s.ok()) return from_rocksdb(s, "clearing the time index");
  }
  uint64_t indexed = 0;
  for (const auto& [day, cf] : partitions) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
    rocksdb::WriteBatch wb;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const rocksdb::Slice k = it->key();
      const auto sequence = parse_sequence_key({k.data(), k.size()});
      auto rec = decode_record_fields({it->value().data(), it->value().size()});
      if (!sequence || !rec) continue;  // verify reports it; nothing to index
      s = wb.Put(by_time,
                 time_index_key(day, rec->model_name, rec->model_version, rec->timestamp_ms,
                                rec->request_id),
                 sequence_key(*sequence));
      if (s.ok() && wb.Count() >= 10'000) {
        s = db->Write(rocksdb::WriteOptions(), &wb);
        wb.Clear();
      }
      if (!s.ok()) return from_rocksdb(s, "building the time index");
      ++indexed;
    }
    if (!it->status().ok()) return from_rocksdb(it->status(), "building the time index");
    if (s = db->Write(rocksdb::WriteOptions(), &wb); !s.ok()) {
      return from_rocksdb(s, "building the time index");
    }
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  s = db->Put(wo, meta, kTimeIndexBuiltKey, "1");
  if (!s.ok()) return from_rocksdb(s, "building the time index");
  if (indexed > 0) spdlog::info("store: time index built over {} stored records", indexed);
  return Status::ok();
}

}  // namespace verity::store
