#include "verity/ingest/masker.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "masker_impl.h"
#include "verity/core/http.h"
#include "verity/core/sha256.h"
#include "verity/core/time_format.h"
#include "verity/document/json_writer.h"
#include "verity/ingest/pii_validators.h"

namespace verity::ingest {
namespace {

bool validate_card(std::string_view m, Masker::Scratch& s) {
  if (card_number_valid(m)) return true;
  ++s.luhn_rejected;
  return false;
}
bool validate_iban(std::string_view m, Masker::Scratch&) { return iban_valid(m); }
bool validate_ssn(std::string_view m, Masker::Scratch&) { return ssn_valid(m); }
bool validate_ipv4(std::string_view m, Masker::Scratch&) { return ipv4_valid(m); }
bool validate_ipv6(std::string_view m, Masker::Scratch&) { return ipv6_valid(m); }

// The built-in detectors, one row each, in DetectorKind order: the name configs use, the order
// overlapping matches resolve in (most specific first; custom detectors come after all of them),
// the validator that confirms a match (none: every match counts), and the patterns (several may
// serve one detector).
struct BuiltinDetector {
  DetectorKind kind;
  std::string_view name;
  int priority;
  bool (*validate)(std::string_view match, Masker::Scratch& s);
  std::array<const char*, 5> patterns;  // unused slots are null
};

constexpr BuiltinDetector kBuiltinDetectors[] = {
    {DetectorKind::kEmail,
     "email",
     5,
     nullptr,
     {R"([A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24})"}},
    {DetectorKind::kCard, "card", 2, validate_card, {R"(\b[2-6]\d{3}([ \-]?\d){9,15}\b)"}},
    {DetectorKind::kSsn, "ssn", 4, validate_ssn, {R"(\b\d{3}-\d{2}-\d{4}\b)"}},
    {DetectorKind::kPhone,
     "phone",
     8,
     nullptr,
     {R"(\+\d{7,15}\b)", R"(\b\d{3}[ .\-]\d{3}[ .\-]\d{4}\b)", R"(\(\d{3}\) ?\d{3}[ .\-]\d{4}\b)",
      R"(\+\d{1,3}([ .\-]\d{1,5}){2,5}\b)"}},
    {DetectorKind::kIpv4, "ipv4", 7, validate_ipv4, {R"(\b(\d{1,3}\.){3}\d{1,3}\b)"}},
    {DetectorKind::kIpv6,
     "ipv6",
     6,
     validate_ipv6,
     {R"(([0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4})"}},
    {DetectorKind::kIban, "iban", 3, validate_iban, {R"(\b[A-Z]{2}\d{2}( ?[A-Z0-9]){11,30}\b)"}},
    {DetectorKind::kJwt,
     "jwt",
     0,
     nullptr,
     {R"(\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{10,})"}},
    {DetectorKind::kApiKey,
     "api_key",
     1,
     nullptr,
     {R"(\b(sk|pk|rk)_(live|test)_[A-Za-z0-9]{16,})", R"(\bAKIA[0-9A-Z]{16}\b)",
      R"(\bgh[pousr]_[A-Za-z0-9]{36}\b)", R"(\bxox[abprs]-[A-Za-z0-9\-]{10,})",
      R"(\bAIza[0-9A-Za-z_\-]{35}\b)"}},
};
static_assert(std::size(kBuiltinDetectors) == kBuiltinDetectorCount);

constexpr bool detectors_in_kind_order() {
  for (size_t d = 0; d < std::size(kBuiltinDetectors); ++d) {
    if (static_cast<size_t>(kBuiltinDetectors[d].kind) != d) return false;
  }
  return true;
}
static_assert(detectors_in_kind_order(), "kBuiltinDetectors[k] describes DetectorKind k");

int priority(uint16_t detector) {
  return detector < kBuiltinDetectorCount ? kBuiltinDetectors[detector].priority
                                          : static_cast<int>(kBuiltinDetectorCount) + detector;
}

constexpr size_t kMaxCandidates = 1 << 20;

// What each built-in detector's patterns need in a segment to match (ScanGate). Email needs its
// '@'; a card number 13 digits (`[2-6]\d{3}` and at least 9 more). Neither pattern matches '\n'.
ScanGate gate_of(DetectorKind kind) {
  switch (kind) {
    case DetectorKind::kEmail:
      return ScanGate::kAtSign;
    case DetectorKind::kCard:
      return ScanGate::kCardDigits;
    default:
      return ScanGate::kNone;
  }
}

bool segment_passes(ScanGate gate, std::string_view segment) {
  switch (gate) {
    case ScanGate::kAtSign:
      return segment.find('@') != std::string_view::npos;
    case ScanGate::kCardDigits: {
      if (segment.size() < 13) return false;
      size_t digits = 0;
      for (const char c : segment) digits += static_cast<unsigned char>(c - '0') < 10;
      return digits >= 13;
    }
    default:
      return true;
  }
}

struct MatchContext {
  std::vector<Candidate>* candidates;
  const std::vector<uint16_t>* pattern_detector;
  uint32_t base;  // offset of the scanned segment in the whole text
};

int on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int,
             void* ctx) {
  auto* c = static_cast<MatchContext*>(ctx);
  if (c->candidates->size() >= kMaxCandidates) return 1;  // stop: bounded work on hostile input
  c->candidates->push_back({static_cast<uint32_t>(c->base + from),
                            static_cast<uint32_t>(c->base + to), (*c->pattern_detector)[id]});
  return 0;
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// Byte offset of the code point with index `cp` (or s.size()).
size_t utf8_offset(std::string_view s, size_t cp) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (n == cp) return i;
      ++n;
    }
  }
  return s.size();
}

void partial(std::string_view text, size_t keep_last, std::string& out) {
  const size_t len = utf8_length(text);
  const size_t hide = len > keep_last ? len - keep_last : 0;
  out.append(hide, '*');
  out.append(text.substr(utf8_offset(text, hide)));
}

std::string format_number(double v) {
  char buf[64];
  if (std::fabs(v) < 1e15 && v == std::floor(v)) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  } else {
    std::snprintf(buf, sizeof buf, "%g", v);
  }
  return buf;
}

}  // namespace

Result<MaskAction> parse_mask_action(std::string_view name) {
  static constexpr std::pair<std::string_view, MaskAction> kNames[] = {
      {"drop", MaskAction::kDrop},         {"redact", MaskAction::kRedact},
      {"hash", MaskAction::kHash},         {"partial", MaskAction::kPartial},
      {"truncate", MaskAction::kTruncate}, {"bucket", MaskAction::kBucket}};
  for (const auto& [n, a] : kNames) {
    if (n == name) return a;
  }
  return Status::invalid_argument("unknown action '" + std::string(name) +
                                  "' (use drop, redact, hash, partial, truncate or bucket)");
}

std::string_view mask_action_name(MaskAction a) {
  switch (a) {
    case MaskAction::kDrop:
      return "drop";
    case MaskAction::kRedact:
      return "redact";
    case MaskAction::kHash:
      return "hash";
    case MaskAction::kPartial:
      return "partial";
    case MaskAction::kTruncate:
      return "truncate";
    case MaskAction::kBucket:
      return "bucket";
  }
  return "hash";
}

std::string_view detector_name(DetectorKind k) {
  const auto d = static_cast<size_t>(k);
  return d < std::size(kBuiltinDetectors) ? kBuiltinDetectors[d].name : "unknown";
}

Status validate_rule_path(std::string_view path) {
  if (path == "**") return Status::ok();  // every value but the root
  if (path.empty() || (path.front() != '/' && path.substr(0, 3) != "**/")) {
    return Status::invalid_argument("a path starts with '/' or '**/'");
  }
  if (path.size() > 1 && path.back() == '/') {
    return Status::invalid_argument("a path does not end with '/'");
  }
  if (path.find("//") != std::string_view::npos) {
    return Status::invalid_argument("a path has no empty segment");
  }
  return Status::ok();
}

bool segment_glob_match(std::string_view p, std::string_view t) {
  size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && (p[pi] == '?' || p[pi] == t[ti])) {
      ++pi;
      ++ti;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

namespace {

bool path_match(const std::vector<std::string>& pat, size_t pi,
                const std::vector<std::string_view>& path, size_t si) {
  if (pi == pat.size()) return si == path.size();
  if (pat[pi] == "**") {
    for (size_t k = si; k <= path.size(); ++k) {
      if (path_match(pat, pi + 1, path, k)) return true;
    }
    return false;
  }
  return si < path.size() && segment_glob_match(pat[pi], path[si]) &&
         path_match(pat, pi + 1, path, si + 1);
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> segs;
  size_t pos = path.front() == '/' ? 1 : 0;  // "**/x" has no leading slash
  while (pos <= path.size() && path.size() > 1) {
    const size_t slash = path.find('/', pos);
    std::string seg(
        path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos));
    // JSON pointer escapes in patterns: ~1 is '/', ~0 is '~'.
    std::string unescaped;
    for (size_t i = 0; i < seg.size(); ++i) {
      if (seg[i] == '~' && i + 1 < seg.size() && (seg[i + 1] == '0' || seg[i + 1] == '1')) {
        unescaped += seg[i + 1] == '0' ? '~' : '/';
        ++i;
      } else {
        unescaped += seg[i];
      }
    }
    segs.push_back(std::move(unescaped));
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  return segs;
}

std::string params_text(const MaskParams& p) {
  return std::string(mask_action_name(p.action)) + " keep_last=" + std::to_string(p.keep_last) +
         " max_length=" + std::to_string(p.max_length) +
         " bucket_width=" + format_number(p.bucket_width);
}

}  // namespace

Masker::Scratch::~Scratch() {
  if (hs != nullptr) hs_free_scratch(hs);
}

void Masker::Scratch::count(std::string_view name) {
  for (auto& [n, c] : counts) {
    if (n.data() == name.data()) {
      ++c;
      return;
    }
  }
  counts.emplace_back(name, 1);
}

Masker::Impl::~Impl() {
  for (const Database& d : databases) hs_free_database(d.db);
}

Masker::Masker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Masker::~Masker() = default;

const Masker::Policy& Masker::default_policy() const { return impl_->default_policy; }

const Masker::Policy& Masker::policy_for(std::string_view model) const {
  auto it = impl_->per_model.find(model);
  return it == impl_->per_model.end() ? impl_->default_policy : it->second;
}

const std::string& Masker::version(const Policy& p) { return p.version; }

void Masker::ScratchDeleter::operator()(Scratch* s) const { delete s; }

Masker::ScratchPtr Masker::make_scratch() const {
  ScratchPtr s(new Scratch());
  for (const Impl::Database& d : impl_->databases) {
    // One scratch serves every database (vectorscan grows it to fit each in turn).
    if (hs_alloc_scratch(d.db, &s->hs) != HS_SUCCESS) {
      if (s->hs != nullptr) hs_free_scratch(s->hs);
      s->hs = nullptr;  // scan() then fails and documents are rejected rather than left unmasked
      break;
    }
  }
  return s;
}

std::string Masker::hmac_token(std::string_view text) const {
  std::string out;
  impl_->hmac_hex(text, out);
  return out;
}

std::vector<std::string> Masker::request_id_forms(std::string_view id) const {
  std::vector<std::string> forms{std::string(id)};
  if (impl_->hashed_request_ids) forms.push_back(hmac_token(id));
  return forms;
}

namespace {

// The first rule of `policy` whose pattern matches the member path `tokens`, or -1.
int first_rule_for(const MaskingPolicy& policy, const std::vector<std::string>& tokens) {
  const std::vector<std::string_view> path(tokens.begin(), tokens.end());
  for (size_t i = 0; i < policy.rules.size(); ++i) {
    if (path_match(split_path(policy.rules[i].path), 0, path, 0)) return static_cast<int>(i);
  }
  return -1;
}

constexpr document::Field kIdentityFields[] = {
    document::Field::kRequestId, document::Field::kTimestamp, document::Field::kModelName,
    document::Field::kModelVersion};

}  // namespace

std::vector<std::string> identity_rule_problems(const MaskingConfig& config,
                                                const document::FieldMappingSet& fields) {
  std::vector<std::string> problems;
  if (!config.enabled) return problems;
  std::vector<const document::FieldMapping*> mappings{&fields.default_mapping};
  for (const auto& [model, m] : fields.per_model) mappings.push_back(&m);
  auto check = [&](const MaskingPolicy& policy, const std::string& where, bool per_model,
                   const MaskingPolicy* base) {
    for (document::Field f : kIdentityFields) {
      for (const auto* mapping : mappings) {
        for (const auto& ptr : mapping->pointers(f)) {
          const int r = first_rule_for(policy, ptr.tokens);
          if (r < 0) continue;
          const MaskRule& rule = policy.rules[static_cast<size_t>(r)];
          // A model's policy holds the default rules too (after its own): those are checked once.
          if (per_model && base != nullptr &&
              std::any_of(base->rules.begin(), base->rules.end(),
                          [&](const MaskRule& b) { return b.path == rule.path; })) {
            continue;
          }
          if (f == document::Field::kRequestId && !per_model &&
              rule.params.action == MaskAction::kHash) {
            continue;  // deliberate: lookups hash the id they are given
          }
          std::string why =
              f == document::Field::kRequestId
                  ? (per_model ? "only the default policy may hash request ids (labels name no "
                                 "model, so they would not be hashed the same way)"
                               : "only the hash action keeps request ids unique and findable")
                  : "it would change a field Verity needs as sent";
          problems.push_back(where + ": the rule on " + rule.path + " would change " +
                             std::string(document::field_name(f)) + " (" + ptr.text + "): " + why);
          break;
        }
      }
    }
  };
  check(config.policy, "masking.rules", false, nullptr);
  for (const auto& [model, policy] : config.per_model) {
    check(policy, "models." + model + ".masking.rules", true, &config.policy);
  }
  std::sort(problems.begin(), problems.end());
  problems.erase(std::unique(problems.begin(), problems.end()), problems.end());
  return problems;
}

bool rules_hash_request_ids(const MaskingConfig& config, const document::FieldMappingSet& fields) {
  if (!config.enabled) return false;
  std::vector<const document::FieldMapping*> mappings{&fields.default_mapping};
  for (const auto& [model, m] : fields.per_model) mappings.push_back(&m);
  for (const auto* mapping : mappings) {
    for (const auto& ptr : mapping->pointers(document::Field::kRequestId)) {
      const int r = first_rule_for(config.policy, ptr.tokens);
      if (r >= 0 &&
          config.policy.rules[static_cast<size_t>(r)].params.action == MaskAction::kHash) {
        return true;
      }
    }
  }
  return false;
}

void Masker::Impl::hmac_hex(std::string_view text, std::string& out) const {
  // HMAC-SHA256 from the precomputed inner and outer states: copying a SHA256_CTX is a plain
  // struct copy, where copying an EVP_MD_CTX allocates (measured: it dominated short tokens).
  unsigned char inner_hash[32], mac[32];
  SHA256_CTX ctx = inner;
  SHA256_Update(&ctx, text.data(), text.size());
  SHA256_Final(inner_hash, &ctx);
  ctx = outer;
  SHA256_Update(&ctx, inner_hash, sizeof inner_hash);
  SHA256_Final(mac, &ctx);
  out += "hmac:";
  out += to_hex(mac, 12);
}

uint64_t Masker::Impl::all_rules(const Policy& p) {
  return p.rules.size() >= 64 ? ~uint64_t{0} : (uint64_t{1} << p.rules.size()) - 1;
}

uint64_t Masker::Impl::advance(const Policy& p, uint64_t live, size_t index,
                               std::string_view segment) {
  uint64_t next = 0;
  for (size_t i = 0; i < p.rule_segments.size() && i < 64; ++i) {
    if ((live & (uint64_t{1} << i)) == 0) continue;
    const auto& segs = p.rule_segments[i];
    if (p.first_globstar[i] <= index ||
        (index < segs.size() && segment_glob_match(segs[index], segment))) {
      next |= uint64_t{1} << i;
    }
  }
  if (p.rules.size() > 64) next |= ~((uint64_t{1} << 63) - 1);  // rules past 64: never pruned
  return next;
}

int Masker::Impl::match_rule(const Policy& p, uint64_t live,
                             const std::vector<std::string_view>& path) const {
  for (size_t i = 0; i < p.rule_segments.size(); ++i) {
    if (i < 64 && (live & (uint64_t{1} << i)) == 0) continue;
    if (path_match(p.rule_segments[i], 0, path, 0)) return static_cast<int>(i);
  }
  return -1;
}

bool Masker::Impl::may_hold_pii(std::string_view text) const {
  // Every built-in detector needs one of: 7+ digits (card, SSN, phone, IBAN), 4+ digits and 3 dots
  // (IPv4), an '@' (email), two ':' (IPv6), or 16+ characters (JWT, API keys). Most values of a
  // prediction log (labels, categories, short ids) have none and skip the scan. Custom patterns can
  // match anything, so with custom detectors every string is scanned.
  if (has_custom) return true;
  // An RFC 3339 timestamp (every prediction has one) is digits and colons but never personal data.
  if (text.size() >= 20 && text.size() <= 35 && text[4] == '-' && text[7] == '-' &&
      (text[10] == 'T' || text[10] == 't' || text[10] == ' ') && parse_rfc3339(text).is_ok()) {
    return false;
  }
  if (text.size() >= 16) return true;
  int digits = 0, colons = 0, dots = 0;
  for (const char c : text) {
    digits += c >= '0' && c <= '9';
    colons += c == ':';
    dots += c == '.';
    if (c == '@') return true;
  }
  return digits >= 7 || (digits >= 4 && dots >= 3) || colons >= 2;
}

bool Masker::Impl::scan(std::string_view text, Masker::Scratch& s) const {
  std::vector<Candidate>& cands = s.text_candidates;
  cands.clear();
  if (databases.empty()) return true;
  if (s.hs == nullptr) return false;
  MatchContext ctx{&cands, &pattern_detector, 0};
  auto run = [&](const Database& d, std::string_view t, size_t base) {
    ctx.base = static_cast<uint32_t>(base);
    return hs_scan(d.db, t.data(), static_cast<unsigned int>(t.size()), 0, s.hs, on_match, &ctx);
  };
  // A match never crosses a segment boundary in a gated database, and '\n' is a non-word
  // character like the ends of a buffer, so \b reads the same in a segment as in the whole text.
  hs_error_t rc = HS_SUCCESS;
  bool gated = false;
  for (const Database& d : databases) {
    if (d.gate == ScanGate::kNone) {
      rc = run(d, text, 0);
      if (rc != HS_SUCCESS) break;
    } else {
      gated = true;
    }
  }
  for (size_t at = 0; gated && rc == HS_SUCCESS && at < text.size();) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view segment = text.substr(at, end - at);
    for (const Database& d : databases) {
      if (d.gate == ScanGate::kNone || !segment_passes(d.gate, segment)) continue;
      rc = run(d, segment, at);
      if (rc != HS_SUCCESS) break;
    }
    at = end + 1;
  }
  // Terminated: the candidate cap was reached; what was found is kept (bounded work).
  if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) return false;
  std::sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) {
    if (a.from != b.from) return a.from < b.from;
    if (priority(a.detector) != priority(b.detector)) {
      return priority(a.detector) < priority(b.detector);
    }
    return a.to > b.to;
  });
  return true;
}

bool Masker::Impl::mask_span(const Policy& p, std::string_view text, size_t offset,
                             Masker::Scratch& s, size_t& cursor, std::string& out,
                             bool hash_only) const {
  const std::vector<Candidate>& cands = s.text_candidates;
  const size_t end = offset + text.size();
  while (cursor < cands.size() && cands[cursor].from < offset) ++cursor;
  bool changed = false;
  size_t copied = 0;  // text[0, copied) is already in out
  size_t pos = 0;     // no accepted match may start before this (relative to text)
  for (; cursor < cands.size() && cands[cursor].from < end; ++cursor) {
    const Candidate& c = cands[cursor];
    if (c.to > end || c.detector >= p.detectors.size()) continue;  // crosses into the next span
    const size_t from = c.from - offset, to = c.to - offset;
    if (from < pos) continue;
    const DetectorSetting& d = p.detectors[c.detector];
    if (!d.enabled) continue;
    const std::string_view m = text.substr(from, to - from);
    if (c.detector < kBuiltinDetectorCount && kBuiltinDetectors[c.detector].validate != nullptr &&
        !kBuiltinDetectors[c.detector].validate(m, s)) {
      continue;
    }
    if (!changed) {
      out.clear();
      changed = true;
    }
    out.append(text.substr(copied, from - copied));
    switch (hash_only ? MaskAction::kHash : d.params.action) {
      case MaskAction::kDrop:
        break;
      case MaskAction::kHash:
        hmac_hex(m, out);
        break;
      case MaskAction::kPartial:
        partial(m, d.params.keep_last, out);
        break;
      default:
        out += p.redact_token;
        break;
    }
    s.count(detector_names[c.detector]);
    copied = to;
    pos = to;
  }
  if (changed) out.append(text.substr(copied));
  return changed;
}

bool Masker::Impl::apply_rule(const Policy& p, size_t rule, std::string_view text, bool is_string,
                              bool is_number, Masker::Scratch& s, std::string& out) const {
  const MaskParams& params = p.rules[rule].params;
  s.count(p.rule_names[rule]);
  std::string& v = s.buf;
  v.clear();
  switch (params.action) {
    case MaskAction::kDrop:
      return false;
    case MaskAction::kHash:
      hmac_hex(text, v);
      break;
    case MaskAction::kPartial:
      if (!is_string && !is_number) {
        v = p.redact_token;
      } else {
        partial(text, params.keep_last, v);
      }
      break;
    case MaskAction::kTruncate:
      if (!is_string && !is_number) {
        v = p.redact_token;
      } else {
        v.assign(text.substr(0, utf8_offset(text, params.max_length)));
      }
      break;
    case MaskAction::kBucket: {
      if (!is_number) {
        v = p.redact_token;
        break;
      }
      const double x = std::strtod(std::string(text).c_str(), nullptr);
      const double w = params.bucket_width;
      const double lo = std::floor(x / w) * w;
      const bool integral = w == std::floor(w) && x == std::floor(x);
      v = format_number(lo) + "-" + format_number(integral ? lo + w - 1 : lo + w);
      break;
    }
    case MaskAction::kRedact:
      v = p.redact_token;
      break;
  }
  document::append_json_string(out, v);
  return true;
}

Result<std::shared_ptr<const Masker>> Masker::create(const MaskingConfig& config, std::string key,
                                                     bool hashed_request_ids) {
  auto impl = std::make_unique<Impl>();
  impl->hashed_request_ids = hashed_request_ids;
  if (key.empty()) return Status::invalid_argument("masking: the HMAC key is empty");

  // HMAC-SHA256 key schedule, computed once.
  unsigned char k[64] = {0};
  if (key.size() > 64) {
    const auto d = sha256(key);
    std::memcpy(k, d.data(), d.size());
  } else {
    std::memcpy(k, key.data(), key.size());
  }
  unsigned char ipad[64], opad[64];
  for (int i = 0; i < 64; ++i) {
    ipad[i] = k[i] ^ 0x36;
    opad[i] = k[i] ^ 0x5c;
  }
  SHA256_Init(&impl->inner);
  SHA256_Update(&impl->inner, ipad, sizeof ipad);
  SHA256_Init(&impl->outer);
  SHA256_Update(&impl->outer, opad, sizeof opad);

  // Detector indices: built-ins, then each distinct custom detector (by name) of any policy.
  for (size_t d = 0; d < kBuiltinDetectorCount; ++d) {
    impl->detector_names.push_back("detector:" +
                                   std::string(detector_name(static_cast<DetectorKind>(d))));
  }
  std::vector<const CustomDetector*> customs;
  auto collect = [&](const MaskingPolicy& mp) -> Status {
    for (const auto& c : mp.custom) {
      bool known = false;
      for (const auto* e : customs) {
        if (e->name == c.name) {
          if (e->pattern != c.pattern) {
            return Status::invalid_argument("masking: custom detector '" + c.name +
                                            "' has different patterns in different models");
          }
          known = true;
        }
      }
      if (!known) {
        customs.push_back(&c);
        impl->detector_names.push_back("detector:" + c.name);
      }
    }
    return Status::ok();
  };
  if (auto st = collect(config.policy); !st) return st;
  impl->has_custom = !customs.empty();
  for (const auto& [model, mp] : config.per_model) {
    if (auto st = collect(mp); !st) return st;
  }

  std::vector<ScanGate> gates;  // pattern id -> its database's gate
  for (const auto& d : kBuiltinDetectors) {
    for (const char* regex : d.patterns) {
      if (regex == nullptr) break;
      impl->patterns.emplace_back(regex);
      impl->pattern_detector.push_back(static_cast<uint16_t>(d.kind));
      gates.push_back(gate_of(d.kind));
    }
  }
  const size_t builtin_patterns = impl->patterns.size();
  for (size_t c = 0; c < customs.size(); ++c) {
    impl->patterns.push_back(customs[c]->pattern);
    impl->pattern_detector.push_back(static_cast<uint16_t>(kBuiltinDetectorCount + c));
    gates.push_back(ScanGate::kNone);  // a custom pattern may match anything, '\n' included
  }
  for (const ScanGate gate : {ScanGate::kNone, ScanGate::kAtSign, ScanGate::kCardDigits}) {
    std::vector<const char*> exprs;
    std::vector<unsigned> flags, ids;
    for (size_t i = 0; i < impl->patterns.size(); ++i) {
      if (gates[i] != gate) continue;
      exprs.push_back(impl->patterns[i].c_str());
      flags.push_back(HS_FLAG_SOM_LEFTMOST);
      ids.push_back(static_cast<unsigned>(i));
    }
    if (exprs.empty()) continue;
    hs_database_t* db = nullptr;
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(exprs.data(), flags.data(), ids.data(),
                         static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr, &db,
                         &err) != HS_SUCCESS) {
      std::string where = "a built-in detector";
      if (err != nullptr && err->expression >= 0 &&
          static_cast<size_t>(err->expression) < ids.size() &&
          ids[static_cast<size_t>(err->expression)] >= builtin_patterns) {
        where = "custom detector '" +
                customs[ids[static_cast<size_t>(err->expression)] - builtin_patterns]->name + "'";
      }
      std::string msg = "masking: " + where + ": invalid pattern: " +
                        (err != nullptr ? std::string(err->message) : std::string("unknown error"));
      if (err != nullptr) hs_free_compile_error(err);
      return Status::invalid_argument(msg);
    }
    impl->databases.push_back({db, gate});
  }

  std::string key_fingerprint;
  impl->hmac_hex("verity-masking-key-fingerprint", key_fingerprint);

  auto compile = [&](const MaskingPolicy& mp, Policy& out) -> Status {
    out.redact_token = mp.redact_token;
    std::string normal = "verity-masking-policy-1\nredact " + mp.redact_token + "\n";
    for (const auto& r : mp.rules) {
      if (auto st = validate_rule_path(r.path); !st) {
        return Status::invalid_argument("masking rule '" + r.path + "': " + st.message());
      }
      out.rules.push_back(r);
      out.rule_segments.push_back(split_path(r.path));
      const auto& segs = out.rule_segments.back();
      const auto star = std::find(segs.begin(), segs.end(), "**");
      out.first_globstar.push_back(star == segs.end() ? std::string::npos
                                                      : static_cast<size_t>(star - segs.begin()));
      out.rule_names.push_back("rule:" + r.path);
      normal += "rule " + r.path + " " + params_text(r.params) + "\n";
    }
    out.detectors.assign(impl->detector_names.size(), DetectorSetting{false, {}});
    for (size_t d = 0; d < kBuiltinDetectorCount; ++d) out.detectors[d] = mp.detectors[d];
    for (const auto& c : mp.custom) {
      for (size_t i = 0; i < customs.size(); ++i) {
        if (customs[i]->name == c.name) out.detectors[kBuiltinDetectorCount + i] = c.setting;
      }
    }
    for (size_t d = 0; d < out.detectors.size(); ++d) {
      const auto& ds = out.detectors[d];
      if (ds.enabled &&
          (ds.params.action == MaskAction::kBucket || ds.params.action == MaskAction::kTruncate)) {
        return Status::invalid_argument(impl->detector_names[d] +
                                        ": a detector's action is drop, " +
                                        "redact, hash or partial");
      }
      out.any_detector |= ds.enabled;
      normal +=
          impl->detector_names[d] + (ds.enabled ? " on " : " off ") + params_text(ds.params) + "\n";
    }
    for (const auto& c : mp.custom) normal += "pattern " + c.name + " /" + c.pattern + "/\n";
    normal += "key " + key_fingerprint + "\n";
    out.version = "mv1-" + sha256_hex(normal).substr(0, 16);
    return Status::ok();
  };
  if (auto st = compile(config.policy, impl->default_policy); !st) return st;
  for (const auto& [model, mp] : config.per_model) {
    if (auto st = compile(mp, impl->per_model[model]); !st) {
      return Status::invalid_argument("models." + model + ": " + st.message());
    }
  }
  return std::shared_ptr<const Masker>(new Masker(std::move(impl)));
}

}  // namespace verity::ingest
