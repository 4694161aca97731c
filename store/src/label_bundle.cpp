#include "label_bundle.h"

#include <algorithm>
#include <cstring>

#include "record_codec.h"

namespace verity::store {
namespace {

constexpr unsigned char kMarker = 0xB1;

uint64_t zigzag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t unzigzag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

bool get_bytes(std::string_view& in, std::string_view& out) {
  uint64_t n = 0;
  if (!get_varint(in, n) || n > in.size()) return false;
  out = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}

}  // namespace

std::string LabelBundle::encode() const {
  std::string out;
  size_t size = current.size() + 16;
  for (const auto& h : history) size += h.record.size() + 48;
  out.reserve(size);
  out += static_cast<char>(kMarker);
  put_varint(out, current.size());
  out += current;
  put_varint(out, history.size());
  for (const auto& h : history) {
    put_varint(out, zigzag(h.time_ms));
    out.append(reinterpret_cast<const char*>(h.digest.data()), h.digest.size());
    put_varint(out, h.record.size());
    out += h.record;
  }
  put_varint(out, zigzag(first_ms));
  return out;
}

std::optional<LabelBundle> LabelBundle::decode(std::string_view value) {
  LabelBundle b;
  if (value.empty() || static_cast<unsigned char>(value[0]) != kMarker) {
    auto rec = decode_record_fields(value);  // a plain record
    if (!rec) return std::nullopt;
    b.current = std::string(value);
    b.first_ms = rec->timestamp_ms;
    return b;
  }
  value.remove_prefix(1);
  std::string_view cur;
  uint64_t n = 0;
  if (!get_bytes(value, cur) || !get_varint(value, n) || n > kMaxHistoryEntries * 2) {
    return std::nullopt;
  }
  b.current = std::string(cur);
  b.history.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    LabelHistoryEntry h;
    uint64_t t = 0;
    std::string_view rec;
    if (!get_varint(value, t) || value.size() < h.digest.size()) return std::nullopt;
    h.time_ms = unzigzag(t);
    std::memcpy(h.digest.data(), value.data(), h.digest.size());
    value.remove_prefix(h.digest.size());
    if (!get_bytes(value, rec)) return std::nullopt;
    h.record = std::string(rec);
    b.history.push_back(std::move(h));
  }
  uint64_t first = 0;
  if (!get_varint(value, first) || !value.empty()) return std::nullopt;
  b.first_ms = unzigzag(first);
  return b;
}

void LabelBundle::remember(EpochMillis time_ms, const Sha256Digest& digest, std::string record) {
  history.push_back({time_ms, digest, std::move(record)});
  size_t kept = 0;
  for (auto it = history.rbegin(); it != history.rend(); ++it) {
    if (it->record.empty()) continue;
    if (++kept > kMaxHistoryRecords) it->record.clear();
  }
  if (history.size() > kMaxHistoryEntries) {
    history.erase(history.begin(), history.begin() + static_cast<std::ptrdiff_t>(
                                                         history.size() - kMaxHistoryEntries));
  }
}

bool LabelBundle::seen(const Sha256Digest& digest) const {
  return std::any_of(history.begin(), history.end(),
                     [&](const LabelHistoryEntry& h) { return h.digest == digest; });
}

}  // namespace verity::store
