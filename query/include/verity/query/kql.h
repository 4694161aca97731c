#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "verity/core/status.h"
#include "verity/core/time_format.h"

namespace verity::query::kql {

// The search language of `GET /v1/predictions?where=` and `verity search`: the subset of Kibana's
// KQL (Kibana's kuery grammar) that a query pasted from Kibana's search bar means the same here.
//
//   query     := or
//   or        := and ("or" and)*                 keywords are case-insensitive
//   and       := not ("and" not)*                "not" binds tighter than "and", "and" than "or"
//   not       := "not" not | primary
//   primary   := "(" or ")" | field ":" values | field ("<" | "<=" | ">" | ">=") value
//   values    := "*" (exists) | value | "(" value-or ")"   with and/or/not inside the parentheses
//   value     := "quoted phrase" (exact, no wildcards) | unquoted (may hold * wildcards)
//              | ~"raw value" (the value's masked form: see Query::Hasher; Verity's own)
//
// Unquoted values are KQL's: backslash escapes `\\ \( \) \: \< \> \" \* \{ \}` and the escaped
// keywords `\and \or \not`; a run of words without a keyword between them is one value
// (`model:credit risk` is the value "credit risk"). Field names are dotted paths (no wildcards).
//
// Details, following Kibana's grammar (packages/kbn-es-query/grammar/grammar.peggy):
// - Whitespace is space, tab, CR, LF and U+00A0. Space between the words of an unquoted value is
//   kept as written; space around it is not. Escaped space (`\t`, `\u0020`) is kept anywhere
//   (Kibana trims it at the ends too).
// - A keyword is a whole word: `and`/`or`/`not` followed by space, a parenthesis or the end
//   (`order:1` and `nothing:1` name fields). A keyword where a value should be is an error
//   (Kibana reads `f:a and` as the value "a and"; here it asks for the missing condition).
// - Unquoted values also take Kibana's `\t \r \n` and `\uXXXX` (UTF-16: a character above U+FFFF
//   is a surrogate pair of two escapes; a lone surrogate is an error). Escaped keywords keep the
//   letters as written (`\AND` is "AND"); `\not` is the word "not" only when a whole word,
//   otherwise `\n` is a newline as in Kibana (`\nothing` is a newline and "othing").
// - Quoted strings take `\\ \" \t \r \n \uXXXX`; a backslash before anything else is itself.
// - A field may be quoted (`"my field":x`); a quoted `"*"` is the character, not a wildcard.
// - `*` and `*:*` (Kibana's match-all) are errors: the empty query matches every record.
// - `{` is an error (Lucene ranges and nested `f:{...}` queries); `[` that starts no Lucene range,
//   and `/` that starts no `/regex/`, are ordinary characters. A regex or range that is meant
//   literally is written quoted.
// - In `f < v` etc., a `*` in v is compared as the character.
//
// Anything else is an error with the 0-based byte position where it starts and, where there is
// one, the KQL spelling: Lucene ranges (`[a TO b]`, `{a TO b}`), `_exists_:f` (`f:*`), regular
// expressions (`/.../`), field-less terms (`foo` alone), `&&`/`||`/`!`, `+`/`-` prefixes, fuzzy and
// boost suffixes (`~`, `^`), wildcards in field names, nesting deeper than 64, queries longer than
// 8 KiB.

// A scalar value found in a record. Dates are numbers (epoch milliseconds) with `date` set.
struct Value {
  // kObject: an object with a value that is not null somewhere below it (Elasticsearch's `exists`
  // on an object field); it counts for `f:*` and matches nothing else.
  enum class Type { kNull, kBool, kNumber, kString, kObject };
  Type type = Type::kNull;
  bool boolean = false;
  double number = 0;      // kNumber
  bool date = false;      // kNumber holding epoch milliseconds (@timestamp, label_time, ...)
  std::string_view text;  // kString: the unescaped string; kNumber: its JSON text (may be empty)
};

// What a query sees of one record. Implemented by the search over stored records, and by tests.
class Record {
 public:
  virtual ~Record() = default;
  // Appends to `out` every scalar value at the dotted `path` (arrays are descended into, at any
  // depth: a path matches when any element matches, as in Elasticsearch). Returns whether the path
  // names anything at all in this record (including null, an object or an empty array).
  // The string_views in `out` stay valid until the next call on this record.
  virtual bool values(std::string_view path, std::vector<Value>& out) const = 0;
};

// The field-index token of a value (search.indexed_fields): one value of a record has one token,
// and a `f:v` term without wildcards finds a value equal exactly when its token is one of the
// term's (Query::index_terms). Empty for objects, which are not indexed.
std::string index_token(const Value& v);

// What a block of records holds, as far as its summary says (the store's BlockSummary read by the
// search's field rules). Conservative: it may admit values no record holds, never the reverse.
class BlockView {
 public:
  struct Path {
    bool known = false;  // false: nothing is known, any value may be there
    bool strings = false, numbers = false, trues = false, falses = false, nulls = false;
    bool below = false;       // some value other than null lies under `path.` (an object path)
    double min = 0, max = 0;  // of the numbers
  };
  virtual ~BlockView() = default;
  virtual Path lookup(std::string_view path) const = 0;
  // Whether `path` may hold the string `s` (asked when lookup(path).strings).
  virtual bool may_hold(std::string_view path, std::string_view s) const = 0;
};

// Matching (Elasticsearch's semantics over Verity's mapping: strings are keywords):
// - `f:*`: f has at least one value that is not null (Elasticsearch's `exists`).
// - `f:v` (unquoted): some value of f equals v: a string equal to v, or matching it when v holds
//   unescaped `*` wildcards (any run of characters, case-sensitive); a number equal to v read as a
//   number; a boolean when v is `true`/`false`; null when v is `null`. A date equals v when v reads
//   as a date (RFC 3339, epoch millis or date math, see parse_time) naming the same millisecond
//   (`f:2026-11-20` is midnight, not the whole day). Date math is read once, at parse, against
//   `now_ms`.
// - `f:"v"`: the same without wildcards (`*` is a character), and `"null"` is only the string.
// - `f:(a or b)`, `f:(a and not b)`: the value expression applied to f (`and`: each term matches
//   some value of f, not necessarily the same one, as in Elasticsearch).
// - `f < v` etc.: some value compares: numbers numerically (v a number), dates by time (v any form
//   parse_time reads), strings by bytes; null and booleans never compare.
// - `not q`: q does not match (a record without f matches `not f:x`).
class Query {
 public:
  struct Node;
  // Masked values: `f:~"raw value"` matches the masked (hashed) form of the raw value, as masking's
  // `hash` action stores it. The hasher returns that form ("hmac:..."); without one such a query
  // is an error.
  using Hasher = std::function<std::string(std::string_view raw)>;
  // Parses `text`. The empty (or all-whitespace) query matches every record. On error:
  // kInvalidArgument whose message starts with "position N: " (N as in `error_position`), and
  // `*error_position` set.
  static Result<Query> parse(std::string_view text, size_t* error_position = nullptr,
                             EpochMillis now_ms = 0, const Hasher* hasher = nullptr);
  Query();
  ~Query();
  Query(Query&&) noexcept;
  Query& operator=(Query&&) noexcept;

  bool matches(const Record& record) const;
  // False only when no record of the block can match (a `not` is never ruled out).
  bool may_match(const BlockView& block) const;
  // (field, token) pairs such that every record the query matches holds one of the tokens at its
  // field (index_token): the field-index lookups that find every match. `canonical` names a query
  // path's indexed field, or nullopt when it is not indexed. nullopt when there is no such set of
  // at most `max_terms` (a query on no indexed field, or whose indexed terms sit under `not`, a
  // range, a wildcard or an `or` with an unindexed side).
  using Canonical = std::function<std::optional<std::string>(std::string_view path)>;
  std::optional<std::vector<std::pair<std::string, std::string>>> index_terms(
      const Canonical& canonical, size_t max_terms = 64) const;
  // Every field path the query reads, in order of first appearance, without duplicates.
  const std::vector<std::string>& fields() const;
  bool match_all() const;

 private:
  std::unique_ptr<Node> root_;
  std::vector<std::string> fields_;
};

// A time bound as `from`/`to` and date values accept it: RFC 3339 (`2026-11-20`,
// `2026-11-20T10:00:00Z`, `...+01:00`, fractional seconds), epoch milliseconds (digits only), or
// Elasticsearch date math anchored at `now` or at a date followed by `||`
// (`now-15m`, `now-1d/d`, `2026-11-20||+1M/d`; units y M w d h H m s; `/unit` rounds down).
// kInvalidArgument naming the problem otherwise.
Result<EpochMillis> parse_time(std::string_view text, EpochMillis now_ms);

}  // namespace verity::query::kql
