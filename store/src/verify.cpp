// Recomputing the per-partition hash chains: `verity verify` and POST /v1/verify.

#include <cstring>

#include "record_codec.h"
#include "store_impl.h"
#include "verity/core/http.h"
#include "verity/document/json_writer.h"
#include "verity/store/partition.h"

namespace verity::store {

namespace {
void append_verification(std::string& out, const PartitionVerification& p) {
  out += "{\"partition\":";
  document::append_json_string(out, p.partition);
  out += ",\"records\":" + std::to_string(p.records);
  out += std::string(",\"ok\":") + (p.ok ? "true" : "false");
  out += ",\"first_break\":";
  if (p.first_break) {
    out += "{\"sequence\":" + std::to_string(p.first_break->sequence) + ",\"reason\":";
    document::append_json_string(out, p.first_break->reason);
    out += '}';
  } else {
    out += "null";
  }
  out += '}';
}

// Walks partition `day` (family `cf`) against its chain in one snapshot of `database`. Reads only:
// verification keeps no state of its own. The caller holds db_mu (shared).
PartitionVerification verify_partition(const Database& database, uint32_t day,
                                       rocksdb::ColumnFamilyHandle* cf) {
  rocksdb::DB* db = database.db.get();
  rocksdb::ColumnFamilyHandle* chain = database.chain;
  PartitionVerification out;
  out.partition = partition_name(day);
  auto fail = [&out](uint64_t seq, std::string reason) {
    out.ok = false;
    out.first_break = ChainBreak{seq, std::move(reason)};
  };
  // One snapshot for the records, the links, the head and the seals: a commit in the middle of
  // the walk is either wholly in it or wholly out.
  const rocksdb::Snapshot* snapshot = db->GetSnapshot();
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  ro.fill_cache = false;  // a full scan would evict what lookups need
  ro.verify_checksums = true;

  ChainHead head = empty_chain(day);
  std::string value;
  auto s = db->Get(ro, database.meta, head_key(day), &value);
  bool head_ok = true;
  if (s.ok()) {
    auto h = decode_head(value);
    if (h) {
      head = *h;
    } else {
      head_ok = false;
    }
  } else if (!s.IsNotFound()) {
    fail(0, "cannot read the chain head: " + s.ToString());
  }

  std::vector<Seal> seals;
  {
    const std::string end = chain_prefix_end('S', day);
    rocksdb::Slice upper(end);
    rocksdb::ReadOptions sro = ro;
    sro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(sro, chain));
    for (it->Seek(chain_prefix('S', day)); it->Valid(); it->Next()) {
      auto seal = decode_seal(it->value().ToStringView());
      if (!seal) {
        if (!out.first_break) fail(0, "seal " + std::to_string(seals.size()) + " is unreadable");
        break;
      }
      seals.push_back(*seal);
    }
  }

  const std::string links_end = chain_prefix_end('L', day);
  rocksdb::Slice links_upper(links_end);
  rocksdb::ReadOptions lro = ro;
  lro.iterate_upper_bound = &links_upper;
  std::unique_ptr<rocksdb::Iterator> links(db->NewIterator(lro, chain));
  std::unique_ptr<rocksdb::Iterator> records(db->NewIterator(ro, cf));
  links->Seek(chain_prefix('L', day));
  records->SeekToFirst();

  Sha256Digest link = chain_genesis(day);
  uint64_t count = 0, last_seq = 0;
  size_t next_seal = 0;
  constexpr uint64_t kEnd = ~uint64_t{0};
  auto storage_error = [&]() {
    for (auto* it : {records.get(), links.get()}) {
      if (!it->Valid() && !it->status().ok()) {
        fail(last_seq + 1, "storage error after sequence " + std::to_string(last_seq) + ": " +
                               it->status().ToString());
        return true;
      }
    }
    return false;
  };
  while (!out.first_break && !storage_error() && (records->Valid() || links->Valid())) {
    uint64_t rseq = kEnd, lseq = kEnd;
    if (records->Valid()) {
      auto k = parse_sequence_key(records->key().ToStringView());
      if (!k) {
        fail(last_seq + 1,
             "a record key that is not a sequence follows sequence " + std::to_string(last_seq));
        break;
      }
      rseq = *k;
    }
    if (links->Valid()) {
      auto k = parse_chain_key(links->key().ToStringView());
      if (!k || k->kind != 'L') {
        fail(last_seq + 1, "an unreadable chain link follows sequence " + std::to_string(last_seq));
        break;
      }
      lseq = k->number;
    }
    if (rseq < lseq) {
      fail(rseq,
           "the record at sequence " + std::to_string(rseq) + " is not in the chain (inserted)");
      break;
    }
    if (lseq < rseq) {
      fail(lseq, "the record at sequence " + std::to_string(lseq) +
                     " is missing (the chain has a link for it)");
      break;
    }
    const std::string_view bytes = records->value().ToStringView();
    auto entry = chain_entry_digest(bytes);
    auto rec_seq = bytes.size() >= 10 ? std::optional<uint64_t>(0) : std::nullopt;
    if (rec_seq) {
      for (int i = 7; i >= 0; --i) *rec_seq = (*rec_seq << 8) | static_cast<uint8_t>(bytes[2 + i]);
    }
    if (!entry || rec_seq != rseq) {
      fail(rseq, "the record at sequence " + std::to_string(rseq) + " is unreadable");
      break;
    }
    link = chain_step(link, rseq, *entry);
    ++count;
    last_seq = rseq;
    const std::string_view stored = links->value().ToStringView();
    if (stored.size() != kStoredLinkBytes ||
        std::memcmp(stored.data(), link.data(), kStoredLinkBytes) != 0) {
      fail(rseq, "the record at sequence " + std::to_string(rseq) +
                     " does not match its chain link (altered)");
      break;
    }
    while (next_seal < seals.size() && seals[next_seal].count == count) {
      if (seals[next_seal].link != link || seals[next_seal].last_sequence != rseq) {
        fail(rseq, "seal " + std::to_string(next_seal) + " does not match the chain at " +
                       std::to_string(count) + " records");
        break;
      }
      ++next_seal;
    }
    records->Next();
    links->Next();
  }
  if (!out.first_break) {
    if (!head_ok) {
      fail(last_seq, "the chain head is unreadable");
    } else if (head.count != count || head.link != link) {
      fail(last_seq, "the chain head (" + std::to_string(head.count) +
                         " records) does not match the records walked (" + std::to_string(count) +
                         ")");
    } else if (next_seal < seals.size()) {
      fail(last_seq, "seal " + std::to_string(next_seal) + " covers " +
                         std::to_string(seals[next_seal].count) + " records; the chain has " +
                         std::to_string(count));
    }
  }
  out.records = count;
  db->ReleaseSnapshot(snapshot);
  return out;
}

}  // namespace

std::string VerifyReport::to_json() const {
  std::string out = std::string("{\"ok\":") + (ok ? "true" : "false") + ",\"partitions\":[";
  for (size_t i = 0; i < partitions.size(); ++i) {
    if (i) out += ',';
    append_verification(out, partitions[i]);
  }
  out += ']';
  if (read_audit) {
    out += ",\"read_audit\":";
    append_verification(out, *read_audit);
  }
  return out + "}";
}

Result<VerifyReport> Store::verify(const std::string& partition) const {
  std::optional<uint32_t> only;
  if (!partition.empty()) {
    only = parse_partition_name(partition);
    if (!only) return Status::invalid_argument("partition names look like p_20261120");
  }
  std::shared_lock db_lock(impl_->db_mu);
  if (!impl_->db) return Status::unavailable("the store is reopening after a write failure");
  std::vector<std::pair<uint32_t, rocksdb::ColumnFamilyHandle*>> selected;
  {
    std::shared_lock lock(impl_->partitions_mu);
    for (const auto& [day, cf] : impl_->partitions) {
      if (!only || *only == day) selected.emplace_back(day, cf);
    }
  }
  if (only && selected.empty()) return Status::not_found("no partition " + partition);
  VerifyReport report;
  for (const auto& [day, cf] : selected) {
    report.partitions.push_back(verify_partition(*impl_, day, cf));
    report.ok = report.ok && report.partitions.back().ok;
  }
  if (!only) {
    report.read_audit = impl_->read_trail.verify();
    report.ok = report.ok && report.read_audit->ok;
  }
  return report;
}

}  // namespace verity::store
