#pragma once

// Internals of the Masker shared with the DocumentDecoder, which applies them while it walks a
// document (one pass: validation, field capture and masking).

#include <hs/hs.h>
// The SHA256_* functions are deprecated in OpenSSL 3 in favour of EVP, whose context copies
// allocate; HMAC tokens are on the hot path, so the plain-struct API is used deliberately.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "verity/ingest/masker.h"

namespace verity::ingest {

struct Masker::Policy {
  std::vector<MaskRule> rules;
  std::vector<std::vector<std::string>> rule_segments;  // rules[i] split at '/'
  std::vector<std::string> rule_names;                  // "rule:<path>", for metrics
  std::vector<size_t> first_globstar;      // index of the first "**" segment of each rule, or npos
  std::vector<DetectorSetting> detectors;  // by detector index: built-ins, then custom detectors
  std::string redact_token;
  std::string version;
  bool any_detector = false;
};

// A detector match candidate: byte range [from, to) and detector index.
struct Candidate {
  uint32_t from = 0;
  uint32_t to = 0;
  uint16_t detector = 0;
};

class Masker::Scratch {
 public:
  ~Scratch();
  hs_scratch_t* hs = nullptr;
  std::vector<Candidate> text_candidates;  // matches in the string being masked
  std::string buf;
  // Per-document masking counts by name ("rule:<path>", "detector:<name>"), cleared by the decoder.
  std::vector<std::pair<std::string_view, uint32_t>> counts;
  uint64_t luhn_rejected = 0;  // card-shaped numbers left alone because they fail Luhn
  void count(std::string_view name);
};

// What a segment of the scanned text (the texts between its '\n's) must hold for any pattern of a
// database to match in it. Patterns that cannot match '\n' and need something most texts lack are
// compiled apart and scanned only over the segments that have it: with start-of-match tracking,
// the email pattern alone cost as much as every other pattern together, scanned over the whole
// text (*Masking* in docs/design-notes.md).
enum class ScanGate : uint8_t {
  kNone,        // every pattern without a gate (custom ones among them), over the whole text
  kAtSign,      // an '@'
  kCardDigits,  // 13 or more ASCII digits
};

struct Masker::Impl {
  ~Impl();
  struct Database {
    hs_database_t* db = nullptr;
    ScanGate gate = ScanGate::kNone;
  };
  std::vector<Database> databases;    // one per gate that has patterns, kNone first
  std::vector<std::string> patterns;  // vectorscan pattern id -> expression
  bool hashed_request_ids = false;    // a rule hashes request ids: lookups hash the id they get
  std::vector<uint16_t> pattern_detector;   // vectorscan pattern id -> detector index
  std::vector<std::string> detector_names;  // "detector:email", ... then "detector:<custom name>"
  bool has_custom = false;                  // any custom detector: then every string is scanned
  SHA256_CTX inner{};                       // SHA-256 state after (key ^ ipad)
  SHA256_CTX outer{};                       // SHA-256 state after (key ^ opad)
  Policy default_policy;
  std::map<std::string, Policy, std::less<>> per_model;

  // Rules that may still match a value at or under a path, as a bit set (rule i = bit i); every
  // rule past the 64th is always live. all_rules() is the set at the root; advance() the set after
  // descending into segment number `index` named `segment`.
  static uint64_t all_rules(const Policy& p);
  static uint64_t advance(const Policy& p, uint64_t live, size_t index, std::string_view segment);
  // The first rule among `live` whose pattern matches `path`, or -1.
  int match_rule(const Policy& p, uint64_t live, const std::vector<std::string_view>& path) const;
  // False when `text` cannot hold anything a built-in detector matches (a cheap pre-check).
  bool may_hold_pii(std::string_view text) const;
  // Runs every detector once over `text` (the document's candidate strings joined by '\n');
  // leaves the matches in s.text_candidates, sorted by start, then specificity, then length, as
  // one database of every pattern would find them. False when vectorscan could not scan (no
  // scratch space, or an error): the caller must not keep the text unmasked.
  bool scan(std::string_view text, Masker::Scratch& s) const;
  // Applies the matches that lie inside text = scanned[offset, offset + text.size()) to `text`.
  // Spans must be visited in increasing offset order; `cursor` carries the position in
  // s.text_candidates from one span to the next (start it at 0). Returns true and fills `out`
  // when anything was masked.
  // With `hash_only` (member names), every match is hashed whatever its detector's action, so
  // distinct names stay distinct.
  bool mask_span(const Policy& p, std::string_view text, size_t offset, Masker::Scratch& s,
                 size_t& cursor, std::string& out, bool hash_only = false) const;
  // Renders a rule's replacement for a value as JSON into `out`. `text` is the unescaped string,
  // the raw number token or the JSON of an object/array; `is_number` selects bucket semantics.
  // Returns false for kDrop (nothing to write).
  bool apply_rule(const Policy& p, size_t rule, std::string_view text, bool is_string,
                  bool is_number, Masker::Scratch& s, std::string& out) const;
  // Appends "hmac:<24 hex>" of `text`. Thread-safe (copies the precomputed states).
  void hmac_hex(std::string_view text, std::string& out) const;
};

}  // namespace verity::ingest
