#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "verity/core/status.h"
#include "verity/document/field_mapping.h"

namespace verity::ingest {

// What to do with a sensitive value (a whole value for a rule, the matched text for a detector).
enum class MaskAction {
  kDrop,      // remove the member (rule) or the matched text (detector)
  kRedact,    // replace with the redact token
  kHash,      // replace with "hmac:<24 hex>" (HMAC-SHA256 with the masking key): joins still work
  kPartial,   // keep the last keep_last characters, '*' for the rest
  kTruncate,  // keep the first max_length characters (rules only)
  kBucket,    // numbers to ranges of bucket_width: 37 -> "30-39" (rules only)
};
Result<MaskAction> parse_mask_action(std::string_view name);
std::string_view mask_action_name(MaskAction a);

struct MaskParams {
  MaskAction action = MaskAction::kHash;
  size_t keep_last = 4;      // kPartial
  size_t max_length = 16;    // kTruncate
  double bucket_width = 10;  // kBucket
};

// A rule on a path pattern: JSON pointer segments where a segment may hold '*' and '?' globs, and a
// segment "**" matches any number of segments ("/inputs/*_email", "**/ssn"). Array elements are
// segments named by their index.
struct MaskRule {
  std::string path;
  MaskParams params;
};

enum class DetectorKind : uint8_t {
  kEmail,
  kCard,
  kSsn,
  kPhone,
  kIpv4,
  kIpv6,
  kIban,
  kJwt,
  kApiKey
};
inline constexpr size_t kBuiltinDetectorCount = 9;
std::string_view detector_name(DetectorKind k);

struct DetectorSetting {
  bool enabled = true;
  MaskParams params;  // kHash by default
};

struct CustomDetector {
  std::string name;
  std::string pattern;  // a vectorscan (Hyperscan) regular expression
  DetectorSetting setting;
};

// One model's complete policy: rules first (the first matching rule wins, and covers the value and
// everything under it), then detectors over every string value no rule covers.
struct MaskingPolicy {
  std::vector<MaskRule> rules;
  std::array<DetectorSetting, kBuiltinDetectorCount> detectors{};
  std::vector<CustomDetector> custom;
  std::string redact_token = "[REDACTED]";
};

struct MaskingConfig {
  bool enabled = true;
  // The HMAC key file. "" means <data_dir>/masking.key, created with a random key on first start.
  std::string key_file;
  MaskingPolicy policy;                                         // the default
  std::map<std::string, MaskingPolicy, std::less<>> per_model;  // complete per-model policies
};

// The identity fields Verity maps (request id, timestamp, model name and version) are never changed
// by detectors. A rule may hash the request id on purpose (lookups then hash the id they are
// given: request_id_forms); any other rule that would change an identity field, and any per-model
// rule on the request id (a label, which names no model, would be hashed differently), is a config
// error: one message per problem, naming the rule and the field. Used by config validation.
std::vector<std::string> identity_rule_problems(const MaskingConfig& config,
                                                const document::FieldMappingSet& fields);
// True when a rule of the default policy hashes the request id at one of its pointers.
bool rules_hash_request_ids(const MaskingConfig& config, const document::FieldMappingSet& fields);

// Checks a path pattern (starts with '/' or "**/", no empty segment). Used by config validation.
Status validate_rule_path(std::string_view path);
// Glob match of one segment: '*' any run, '?' one byte.
bool segment_glob_match(std::string_view pattern, std::string_view text);

}  // namespace verity::ingest
