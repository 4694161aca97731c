#include "verity/query/kql.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <optional>
#include <utility>

namespace verity::query::kql {

// One node of a parsed query. A field's value list (`f:(a or not b)`) is distributed at parse
// time into the same tree as the query (`f:a or not f:b`), as Kibana does, so matching walks a
// single kind of tree.
struct Query::Node {
  enum class Kind { kAnd, kOr, kNot, kExists, kEquals, kRange };
  enum class Op { kLt, kLe, kGt, kGe };

  Kind kind = Kind::kAnd;
  std::vector<std::unique_ptr<Node>> children;  // kAnd, kOr: two or more; kNot: exactly one
  size_t field = 0;  // kExists, kEquals, kRange: its index in Query::fields_
  // kEquals, kRange: the unescaped value. A wildcard shows as '*', as does an escaped '*'.
  std::string text;
  // kEquals: `text` split at its unescaped wildcards; a single piece means no wildcard.
  std::vector<std::string> pieces;
  bool quoted = false;
  Op op = Op::kLt;                  // kRange
  std::optional<double> number;     // `text` read as a number
  std::optional<EpochMillis> time;  // `text` read by parse_time at the query's `now`
};

namespace {

using Node = Query::Node;
using NodePtr = std::unique_ptr<Node>;

constexpr size_t kMaxLength = 8 * 1024;
constexpr int kMaxDepth = 64;
constexpr size_t kNone = std::string_view::npos;

// ---------------------------------------------------------------------------------------------
// Times

constexpr int64_t kDayMs = 86'400'000;
// Date math stays inside years 0000..9999, where the calendar arithmetic cannot overflow.
constexpr EpochMillis kMinMillis = -62167219200000;  // 0000-01-01T00:00:00Z
constexpr EpochMillis kMaxMillis = 253402300799999;  // 9999-12-31T23:59:59.999Z
// Elasticsearch reads a date math amount as a Java int.
constexpr int64_t kMaxAmount = 2147483647;

int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// The anchor of a time: epoch milliseconds (digits only), a date (midnight UTC) or RFC 3339.
Result<EpochMillis> parse_anchor(std::string_view s) {
  if (s.empty()) return Status::invalid_argument("a time is empty");
  if (std::all_of(s.begin(), s.end(), is_digit)) {
    int64_t ms = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), ms);
    if (ec != std::errc() || end != s.data() + s.size() || ms > kMaxMillis) {
      return Status::invalid_argument("epoch milliseconds beyond year 9999");
    }
    return ms;
  }
  if (s.size() == 10) {  // YYYY-MM-DD
    std::string midnight(s);
    midnight += "T00:00:00Z";
    auto day = parse_rfc3339(midnight);
    if (!day) return Status::invalid_argument("not a date (YYYY-MM-DD): " + day.status().message());
    return day;
  }
  return parse_rfc3339(s);
}

// Adds `months` calendar months, keeping the time of day and clamping the day to the length of
// the month reached (Jan 31 + 1M = Feb 28 or 29), as Elasticsearch (java.time) does.
bool add_months(EpochMillis& t, int64_t months) {
  const int64_t days = floor_div(t, kDayMs);
  const int64_t time_of_day = t - days * kDayMs;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  const int64_t total = y * 12 + (m - 1) + months;
  const int64_t year = floor_div(total, 12);
  if (year < 0 || year > 9999) return false;
  const auto month = static_cast<unsigned>(total - year * 12) + 1;
  t = days_from_civil(year, month, std::min(d, days_in_month(year, month))) * kDayMs + time_of_day;
  return true;
}

// Rounds down to the start of the unit (weeks start on Monday, as in ISO 8601 and Elasticsearch).
EpochMillis round_down(EpochMillis t, char unit) {
  const int64_t days = floor_div(t, kDayMs);
  int64_t y;
  unsigned m, d;
  switch (unit) {
    case 'y':
    case 'M':
      civil_from_days(days, y, m, d);
      return days_from_civil(y, unit == 'y' ? 1 : m, 1) * kDayMs;
    case 'w':
      // 1970-01-01 was a Thursday, day 3 of a week counted from Monday.
      return (days - (days + 3 - floor_div(days + 3, 7) * 7)) * kDayMs;
    case 'd':
      return days * kDayMs;
    case 'h':
    case 'H':
      return floor_div(t, 3'600'000) * 3'600'000;
    case 'm':
      return floor_div(t, 60'000) * 60'000;
    default:  // 's'
      return floor_div(t, 1000) * 1000;
  }
}

// Milliseconds in one fixed-length unit (not y or M, whose length depends on the calendar).
int64_t unit_millis(char unit) {
  switch (unit) {
    case 'w':
      return 7 * kDayMs;
    case 'd':
      return kDayMs;
    case 'h':
    case 'H':
      return 3'600'000;
    case 'm':
      return 60'000;
    default:  // 's'
      return 1000;
  }
}

bool is_unit(char c) { return std::string_view("yMwdhHms").find(c) != kNone; }

// ---------------------------------------------------------------------------------------------
// Values

// The value read as a number: JSON-like digits, sign, point and exponent only (from_chars alone
// would also take "inf" and "nan").
std::optional<double> read_number(std::string_view s) {
  if (s.empty() || s.size() > 64) return std::nullopt;
  for (const char c : s) {
    if (!is_digit(c) && c != '.' && c != '-' && c != '+' && c != 'e' && c != 'E') {
      return std::nullopt;
    }
  }
  // Elasticsearch reads "+5" as 5; from_chars takes no '+'.
  if (s.size() > 1 && s[0] == '+' && (is_digit(s[1]) || s[1] == '.')) s.remove_prefix(1);
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// Whether `s` matches the pieces of a wildcard pattern (a `*` between each two pieces). The
// leftmost match of each middle piece is enough: a later one never leaves more room.
bool wildcard_match(const std::vector<std::string>& pieces, std::string_view s) {
  const std::string& first = pieces.front();
  const std::string& last = pieces.back();
  if (s.size() < first.size() + last.size() || !s.starts_with(first) || !s.ends_with(last)) {
    return false;
  }
  const std::string_view middle = s.substr(0, s.size() - last.size());
  size_t pos = first.size();
  for (size_t i = 1; i + 1 < pieces.size(); ++i) {
    const size_t at = middle.find(pieces[i], pos);
    if (at == kNone) return false;
    pos = at + pieces[i].size();
  }
  return true;
}

// `f:v` for one value of f (Query's header comment has the rules).
bool value_equals(const Node& n, const Value& v) {
  if (n.pieces.size() > 1) {
    return v.type == Value::Type::kString && wildcard_match(n.pieces, v.text);
  }
  switch (v.type) {
    case Value::Type::kNull:
      return !n.quoted && n.text == "null";
    case Value::Type::kBool:
      return n.text == (v.boolean ? "true" : "false");
    case Value::Type::kNumber:
      if (v.date) return n.time && static_cast<double>(*n.time) == v.number;
      return n.number && *n.number == v.number;
    case Value::Type::kString:
      return v.text == n.text;
    case Value::Type::kObject:
      return false;
  }
  return false;
}

// `f < v` etc. for one value of f.
bool value_compares(const Node& n, const Value& v) {
  int sign;  // of (value - literal)
  if (v.type == Value::Type::kNumber) {
    const std::optional<double> bound =
        v.date ? (n.time ? std::optional<double>(static_cast<double>(*n.time)) : std::nullopt)
               : n.number;
    if (!bound || std::isnan(v.number)) return false;
    sign = v.number < *bound ? -1 : (v.number > *bound ? 1 : 0);
  } else if (v.type == Value::Type::kString) {
    const int c = v.text.compare(n.text);  // char_traits<char> compares bytes as unsigned
    sign = c < 0 ? -1 : (c > 0 ? 1 : 0);
  } else {
    return false;  // null and booleans never compare
  }
  switch (n.op) {
    case Node::Op::kLt:
      return sign < 0;
    case Node::Op::kLe:
      return sign <= 0;
    case Node::Op::kGt:
      return sign > 0;
    case Node::Op::kGe:
      return sign >= 0;
  }
  return false;
}

// Evaluates `n` on one record. `fields` are the query's field paths, which nodes name by index.
// `scratch` is reused by every leaf: a Record's views stay valid only until its next call.
bool eval(const Node& n, const std::vector<std::string>& fields, const Record& record,
          std::vector<Value>& scratch) {
  switch (n.kind) {
    case Node::Kind::kAnd:
      for (const auto& c : n.children) {
        if (!eval(*c, fields, record, scratch)) return false;
      }
      return true;
    case Node::Kind::kOr:
      for (const auto& c : n.children) {
        if (eval(*c, fields, record, scratch)) return true;
      }
      return false;
    case Node::Kind::kNot:
      return !eval(*n.children.front(), fields, record, scratch);
    case Node::Kind::kExists:
    case Node::Kind::kEquals:
    case Node::Kind::kRange:
      break;
  }
  scratch.clear();
  // Whether the path exists does not matter: absent and empty paths alike hold no value to match.
  (void)record.values(fields[n.field], scratch);
  return std::any_of(scratch.begin(), scratch.end(), [&](const Value& v) {
    switch (n.kind) {
      case Node::Kind::kExists:
        return v.type != Value::Type::kNull;
      case Node::Kind::kEquals:
        return value_equals(n, v);
      default:
        return value_compares(n, v);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Parsing

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Characters that end an unquoted literal unless escaped (Kibana's SpecialCharacter, less `*`,
// which is a wildcard, and `\`, which starts an escape).
bool is_special(char c) { return std::string_view("():<>\"{}").find(c) != kNone; }

// The query's own text for a suggestion, when it is short and plain enough to echo; otherwise
// the placeholder. Messages are logged and returned in JSON, so nothing else is copied into them.
std::string echo(std::string_view raw, std::string_view placeholder) {
  if (raw.empty() || raw.size() > 40) return std::string(placeholder);
  for (const char c : raw) {
    if (c < 0x20 || c > 0x7E || c == '\'') return std::string(placeholder);
  }
  return std::string(raw);
}

// A quoted string or an unquoted literal, as read from the query.
struct Literal {
  size_t start = 0, end = 0;  // its bytes in the query
  bool quoted = false;
  std::string text;                 // unescaped; wildcards as '*'
  std::vector<std::string> pieces;  // `text` split at unescaped wildcards
  size_t first_wildcard = kNone;    // query position of the first unescaped '*'
  size_t last_word = kNone;         // query position of the last word when there are several
};

// What a literal is read as: a field name, a value after ':', or the value of a comparison.
enum class Role { kField, kValue, kRange };

class Parser {
 public:
  Parser(std::string_view text, EpochMillis now_ms, const Query::Hasher* hasher)
      : s_(text), now_ms_(now_ms), hasher_(hasher) {}

  // The whole query; null for the empty query or on error (then failed() is true).
  NodePtr parse() {
    skip_space();
    if (pos_ == s_.size()) return nullptr;
    NodePtr root = parse_or(0);
    if (!root) return nullptr;
    skip_space();
    if (pos_ < s_.size()) return unexpected(pos_, "'and', 'or' or the end of the query");
    return root;
  }

  bool failed() const { return error_pos_ != kNone; }
  size_t error_pos() const { return error_pos_; }
  const std::string& error() const { return error_; }
  std::vector<std::string> take_fields() { return std::move(fields_); }

 private:
  // A field as written: for the nodes (its index in fields_) and for suggestions (its text).
  struct FieldRef {
    size_t index;  // in fields_
    std::string_view raw;
  };

  // Records the first error and returns null, so that every caller can just return.
  NodePtr fail(size_t pos, std::string message) {
    if (!failed()) {
      error_pos_ = std::min(pos, s_.size());
      error_ = std::move(message);
    }
    return nullptr;
  }

  // The length of the whitespace character at `p` (Kibana's Space: space, tab, CR, LF, U+00A0).
  size_t space_len(size_t p) const {
    if (p >= s_.size()) return 0;
    const char c = s_[p];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') return 1;
    if (c == '\xC2' && p + 1 < s_.size() && s_[p + 1] == '\xA0') return 2;
    return 0;
  }
  void skip_space() {
    while (const size_t n = space_len(pos_)) pos_ += n;
  }
  // Whether a word ending at `p` is a whole word: followed by space, a parenthesis or the end.
  bool word_ends(size_t p) const {
    return p >= s_.size() || space_len(p) || s_[p] == '(' || s_[p] == ')';
  }
  // The keyword (and, or, not, in any case) standing as a word at `p`, or empty.
  std::string_view keyword_at(size_t p) const {
    for (const std::string_view kw : {"and", "or", "not"}) {
      if (p + kw.size() > s_.size()) continue;
      bool same = true;
      for (size_t i = 0; i < kw.size(); ++i) {
        const char c = s_[p + i];
        same = same && (c == kw[i] || c == kw[i] - 'a' + 'A');
      }
      if (same && word_ends(p + kw.size())) return kw;
    }
    return {};
  }
  // Lucene's `&&` or `||` standing as a word at `p`, or empty.
  std::string_view lucene_operator_at(size_t p) const {
    const std::string_view two = s_.substr(p, 2);
    if ((two == "&&" || two == "||") && word_ends(p + 2)) return two;
    return {};
  }
  // Consumes the keyword `kw` (after optional space) when it comes next.
  bool take_keyword(std::string_view kw) {
    skip_space();
    if (keyword_at(pos_) != kw) return false;
    pos_ += kw.size();
    return true;
  }

  // The index of `name` in the query's fields, added when new. Nodes hold the index rather than
  // the name, so that `f:(a or b or ...)` does not copy a long field name into every value.
  size_t add_field(const std::string& name) {
    const auto it = std::find(fields_.begin(), fields_.end(), name);
    if (it != fields_.end()) return static_cast<size_t>(it - fields_.begin());
    fields_.push_back(name);
    return fields_.size() - 1;
  }

  static NodePtr make(Node::Kind kind) {
    auto n = std::make_unique<Node>();
    n->kind = kind;
    return n;
  }

  // `sub (keyword sub)*` as one node of `kind`, or the single operand.
  template <typename Sub>
  NodePtr chain(Node::Kind kind, std::string_view keyword, Sub sub) {
    NodePtr first = sub();
    if (!first || !take_keyword(keyword)) return first;
    NodePtr node = make(kind);
    node->children.push_back(std::move(first));
    do {
      NodePtr next = sub();
      if (!next) return nullptr;
      node->children.push_back(std::move(next));
    } while (take_keyword(keyword));
    return node;
  }

  NodePtr parse_or(int depth) {
    return chain(Node::Kind::kOr, "or", [&] { return parse_and(depth); });
  }
  NodePtr parse_and(int depth) {
    return chain(Node::Kind::kAnd, "and", [&] { return parse_not(depth); });
  }
  NodePtr parse_not(int depth) {
    skip_space();
    if (keyword_at(pos_) != "not") return parse_primary(depth);
    if (depth >= kMaxDepth) return fail(pos_, "nesting deeper than 64");
    pos_ += 3;
    NodePtr inner = parse_not(depth + 1);
    if (!inner) return nullptr;
    NodePtr node = make(Node::Kind::kNot);
    node->children.push_back(std::move(inner));
    return node;
  }

  // Consumes the ')' closing the '(' at `open`.
  bool close_paren(size_t open) {
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == ')') {
      ++pos_;
      return true;
    }
    if (pos_ >= s_.size()) {
      fail(pos_, "missing ')' for the '(' at position " + std::to_string(open));
    } else {
      unexpected(pos_, "'and', 'or' or ')' closing the '(' at position " + std::to_string(open));
    }
    return false;
  }

  NodePtr parse_primary(int depth) {
    skip_space();
    if (pos_ >= s_.size()) return fail(pos_, "expected a condition such as 'field:value'");
    const size_t start = pos_;
    const char c = s_[pos_];
    if (c == '(') {
      if (depth >= kMaxDepth) return fail(pos_, "nesting deeper than 64");
      ++pos_;
      NodePtr inner = parse_or(depth + 1);
      if (!inner || !close_paren(start)) return nullptr;
      return inner;
    }
    if (const std::string_view kw = keyword_at(pos_); !kw.empty()) {
      return fail(pos_, "'" + std::string(kw) + "' needs a condition before it");
    }
    if (const std::string_view op = lucene_operator_at(pos_); !op.empty()) {
      return fail(pos_, "'" + std::string(op) + "' is not KQL; write '" +
                            (op == "&&" ? "and" : "or") + "' between conditions");
    }
    if (c == '!') return fail(pos_, "'!' is not KQL; write 'not field:value'");
    if (c == '+' || c == '-') {
      return fail(pos_, c == '+' ? "Lucene '+' prefix is not KQL; write 'and field:value'"
                                 : "Lucene '-' prefix is not KQL; write 'not field:value'");
    }
    if (c == ')') return fail(pos_, "expected a condition before ')'");
    if (c == ':') return fail(pos_, "expected a field name before ':'");
    if (is_special(c) && c != '"') {
      return fail(pos_, std::string("unexpected '") + c + "'; escape it as '\\" + c + "'");
    }
    Literal field;
    if (!read_literal(field, Role::kField)) return nullptr;
    FieldRef ref{0, s_.substr(field.start, field.end - field.start)};
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == ':') {
      if (!check_field(field, ref.index)) return nullptr;
      ++pos_;
      return parse_values(ref, depth);
    }
    if (pos_ < s_.size() && (s_[pos_] == '<' || s_[pos_] == '>')) {
      if (!check_field(field, ref.index)) return nullptr;
      return parse_range(ref);
    }
    return field_less(field);
  }

  // Every field name is checked before its value is read.
  bool check_field(const Literal& f, size_t& index) {
    if (!f.quoted && f.text == "_exists_") {
      size_t q = pos_ + 1;
      while (space_len(q)) q += space_len(q);
      size_t e = q;
      while (e < s_.size() && !space_len(e) && !is_special(s_[e])) ++e;
      const std::string name = echo(s_.substr(q, e - q), "field");
      fail(f.start, "Lucene '_exists_:" + name + "' is not KQL; write '" + name + ":*'");
      return false;
    }
    if (f.first_wildcard != kNone) {
      if (f.text == "*") {
        fail(f.start,
             "'*:' (every field) is not supported; name a field, or leave the query empty to "
             "match every record");
      } else {
        fail(f.first_wildcard, "wildcards in field names are not supported; name the field");
      }
      return false;
    }
    if (f.text.empty()) {
      fail(f.start, "expected a field name");
      return false;
    }
    index = add_field(f.text);
    return true;
  }

  // A literal with neither ':' nor a comparison after it.
  NodePtr field_less(const Literal& term) {
    const std::string_view raw = s_.substr(term.start, term.end - term.start);
    if (!term.quoted && term.text == "*") {
      return fail(term.start, "'*' is not needed: the empty query matches every record");
    }
    if (const size_t eq = raw.find('='); !term.quoted && eq != kNone) {
      const bool negated = eq > 0 && raw[eq - 1] == '!';
      return fail(term.start + eq - (negated ? 1 : 0),
                  negated ? "'!=' is not KQL; write 'not field:value'"
                          : "'=' is not KQL; write 'field:value' or 'field >= value'");
    }
    return fail(term.start, "a value needs a field: write 'field:" + echo(raw, "value") + "'");
  }

  // After `field:`: one value, or a parenthesized value expression.
  NodePtr parse_values(const FieldRef& field, int depth) {
    skip_space();
    if (pos_ >= s_.size() || s_[pos_] != '(') return parse_value(field);
    const size_t open = pos_;
    if (depth >= kMaxDepth) return fail(pos_, "nesting deeper than 64");
    ++pos_;
    NodePtr inner = chain(Node::Kind::kOr, "or", [&] {
      return chain(Node::Kind::kAnd, "and", [&] { return parse_value_not(field, depth + 1); });
    });
    if (!inner || !close_paren(open)) return nullptr;
    return inner;
  }

  NodePtr parse_value_not(const FieldRef& field, int depth) {
    skip_space();
    if (keyword_at(pos_) != "not") return parse_values(field, depth);
    if (depth >= kMaxDepth) return fail(pos_, "nesting deeper than 64");
    pos_ += 3;
    NodePtr inner = parse_value_not(field, depth + 1);
    if (!inner) return nullptr;
    NodePtr node = make(Node::Kind::kNot);
    node->children.push_back(std::move(inner));
    return node;
  }

  // One value of `field:value`: `*`, a quoted phrase or an unquoted literal.
  NodePtr parse_value(const FieldRef& field) {
    skip_space();
    if (pos_ >= s_.size()) return fail(pos_, "expected a value after ':'");
    const char c = s_[pos_];
    if (const std::string_view kw = keyword_at(pos_); !kw.empty()) {
      if (kw == "not") {
        const std::string f = echo(field.raw, "field");
        return fail(pos_, "'not' in a value needs parentheses: write 'not " + f + ":value' or '" +
                              f + ":(not value)'");
      }
      return fail(pos_, "expected a value before '" + std::string(kw) + "'");
    }
    if (c == '<' || c == '>') {
      return fail(pos_, "a comparison takes no ':': write '" + echo(field.raw, "field") + " " + c +
                            " value'");
    }
    if (c == '[' || c == '{') {
      if (!check_lucene_range(field)) return nullptr;
    }
    if (c == '/' && looks_like_regex(pos_)) {
      return fail(pos_,
                  "regular expressions '/.../' are not KQL; use * wildcards, or quote the value "
                  "to match it literally");
    }
    if (c == ')' || c == ':' || c == '}') return fail(pos_, "expected a value");
    if (c == '~' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '"') return parse_hashed(field);
    Literal v;
    if (!read_literal(v, Role::kValue)) return nullptr;
    if (!v.quoted && v.pieces.size() == 2 && v.text == "*") {
      NodePtr exists = make(Node::Kind::kExists);
      exists->field = field.index;
      return exists;
    }
    NodePtr n = make(Node::Kind::kEquals);
    n->field = field.index;
    n->quoted = v.quoted;
    if (v.pieces.size() == 1) {
      n->number = read_number(v.text);
      if (auto t = parse_time(v.text, now_ms_)) n->time = *t;
    }
    n->text = std::move(v.text);
    n->pieces = std::move(v.pieces);
    return n;
  }

  // `field:~"raw"` at the '~': the phrase of the raw value's masked form (a '~' before anything
  // but a quote is an ordinary character).
  NodePtr parse_hashed(const FieldRef& field) {
    const size_t at = pos_;
    ++pos_;  // at the opening quote
    if (hasher_ == nullptr || !*hasher_) {
      return fail(at, "'~\"...\"' matches a raw value against its masked form: masking is off");
    }
    Literal v;
    if (!read_literal(v, Role::kValue)) return nullptr;
    NodePtr n = make(Node::Kind::kEquals);
    n->field = field.index;
    n->quoted = true;
    n->text = (*hasher_)(v.text);
    n->pieces = {n->text};
    return n;
  }

  // `field op value`, at the operator.
  NodePtr parse_range(const FieldRef& field) {
    NodePtr n = make(Node::Kind::kRange);
    n->field = field.index;
    const bool lt = s_[pos_] == '<';
    const bool eq = pos_ + 1 < s_.size() && s_[pos_ + 1] == '=';
    n->op = lt ? (eq ? Node::Op::kLe : Node::Op::kLt) : (eq ? Node::Op::kGe : Node::Op::kGt);
    const std::string op = std::string(lt ? "<" : ">") + (eq ? "=" : "");
    pos_ += eq ? 2 : 1;
    skip_space();
    if (pos_ >= s_.size()) return fail(pos_, "expected a value after '" + op + "'");
    const char c = s_[pos_];
    if (!keyword_at(pos_).empty() || (is_special(c) && c != '"')) {
      return fail(pos_, "expected one value after '" + op + "'");
    }
    Literal v;
    if (!read_literal(v, Role::kRange)) return nullptr;
    // Wildcards do not apply to comparisons: a '*' is compared as itself.
    n->number = read_number(v.text);
    if (auto t = parse_time(v.text, now_ms_)) n->time = *t;
    n->text = std::move(v.text);
    return n;
  }

  // Lucene's `[a TO b]`, `{a TO b}` (or a mix) at pos_: an error with the KQL spelling. A '['
  // that starts no range is an ordinary character, as in KQL; a '{' is always an error.
  bool check_lucene_range(const FieldRef& field) {
    const size_t open = pos_;
    const size_t close = s_.find_first_of("]}", open + 1);
    const std::string_view inner =
        close == kNone ? std::string_view() : s_.substr(open + 1, close - open - 1);
    const size_t to = inner.find(" TO ");
    if (to == kNone) {
      if (s_[open] == '[') return true;
      fail(open, "nested queries 'field:{...}' are not supported");
      return false;
    }
    auto trim = [&](std::string_view v) {
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
      return v;
    };
    const std::string_view lo = trim(inner.substr(0, to)), hi = trim(inner.substr(to + 4));
    const std::string f = echo(field.raw, "f");
    const std::string lower = f + (s_[open] == '[' ? " >= " : " > ") + echo(lo, "a");
    const std::string upper = f + (s_[close] == ']' ? " <= " : " < ") + echo(hi, "b");
    std::string kql;
    if (lo == "*" && hi == "*") {
      kql = f + ":*";
    } else if (lo == "*") {
      kql = upper;
    } else if (hi == "*") {
      kql = lower;
    } else {
      kql = lower + " and " + upper;
    }
    fail(open, "Lucene range '" + echo(s_.substr(open, close - open + 1), "[a TO b]") +
                   "' is not KQL; write '" + kql + "'");
    return false;
  }

  // `/.../`: a '/' at `p` and another ending the same word.
  bool looks_like_regex(size_t p) const {
    for (size_t q = p + 1; q < s_.size() && !space_len(q); ++q) {
      if (s_[q] == '/' && word_ends(q + 1)) return true;
    }
    return false;
  }

  // The position of a Lucene fuzzy (`term~`, `term~2`) or boost (`term^2`) suffix ending the
  // word [begin, end), or kNone.
  size_t fuzzy_or_boost(size_t begin, size_t end) const {
    size_t q = end;
    while (q > begin && (is_digit(s_[q - 1]) || s_[q - 1] == '.')) --q;
    if (q <= begin + 1) return kNone;  // nothing before the suffix: not a suffix
    if (s_[q - 1] == '~' || (s_[q - 1] == '^' && q < end)) return q - 1;
    return kNone;
  }

  bool read_literal(Literal& out, Role role) {
    out = Literal();
    out.start = pos_;
    const bool ok = s_[pos_] == '"' ? read_quoted(out) : read_unquoted(out, role);
    out.end = pos_;
    if (ok && out.quoted && role != Role::kField && pos_ < s_.size() &&
        (s_[pos_] == '~' || s_[pos_] == '^')) {
      fail(pos_, kFuzzyMessage);
      return false;
    }
    if (ok && !out.quoted) {
      last_literal_end_ = role == Role::kField ? kNone : pos_;
      last_word_ = out.last_word;
    }
    return ok;
  }

  static constexpr const char* kFuzzyMessage =
      "Lucene '~' (fuzzy, proximity) and '^' (boost) suffixes are not KQL; remove the suffix, or "
      "quote a value that holds it";

  // `\uXXXX` at `p` (the backslash), a surrogate pair taking two escapes. Returns the escape's
  // length, 0 when there is none at `p`, or kNone after an error.
  size_t read_unicode(size_t p, std::string& out) {
    auto hex4 = [&](size_t at, uint32_t& v) {
      if (at + 6 > s_.size() || s_[at] != '\\' || s_[at + 1] != 'u') return false;
      v = 0;
      for (size_t i = at + 2; i < at + 6; ++i) {
        const char c = s_[i];
        const int d = is_digit(c)              ? c - '0'
                      : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                      : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                               : -1;
        if (d < 0) return false;
        v = v * 16 + static_cast<uint32_t>(d);
      }
      return true;
    };
    uint32_t cp;
    if (!hex4(p, cp)) return 0;
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
      fail(p, "'\\u' escape of a lone low surrogate");
      return kNone;
    }
    if (cp < 0xD800 || cp > 0xDBFF) {
      append_utf8(out, cp);
      return 6;
    }
    uint32_t low;
    if (!hex4(p + 6, low) || low < 0xDC00 || low > 0xDFFF) {
      fail(p,
           "'\\u' escape of a high surrogate needs a low surrogate '\\uDC00'..'\\uDFFF' after it");
      return kNone;
    }
    append_utf8(out, 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00));
    return 12;
  }

  // Kibana's QuotedString: `\\`, `\"`, `\t`, `\r`, `\n` and `\uXXXX` are escapes; a backslash
  // before anything else is itself.
  bool read_quoted(Literal& out) {
    ++pos_;
    while (true) {
      if (pos_ >= s_.size()) {
        fail(out.start, "unterminated quoted string: add the closing '\"'");
        return false;
      }
      const char c = s_[pos_];
      if (c == '"') break;
      if (c == '\\' && pos_ + 1 < s_.size()) {
        const char e = s_[pos_ + 1];
        const size_t u = e == 'u' ? read_unicode(pos_, out.text) : 0;
        if (u == kNone) return false;
        if (u > 0) {
          pos_ += u;
          continue;
        }
        if (e == '\\' || e == '"' || e == 't' || e == 'r' || e == 'n') {
          out.text += e == 't' ? '\t' : e == 'r' ? '\r' : e == 'n' ? '\n' : e;
          pos_ += 2;
          continue;
        }
      }
      out.text += c;
      ++pos_;
    }
    ++pos_;
    out.quoted = true;
    out.pieces = {out.text};
    return true;
  }

  // Kibana's UnquotedLiteral: up to a special character, or up to space followed by a keyword (or
  // by Lucene's && and ||) or by a special character. Space between words belongs to the value.
  bool read_unquoted(Literal& out, Role role) {
    out.pieces.emplace_back();
    size_t word = pos_;
    auto end_word = [&](size_t end) {
      if (role == Role::kField) return true;
      if (const size_t at = fuzzy_or_boost(word, end); at != kNone) {
        fail(at, kFuzzyMessage);
        return false;
      }
      return true;
    };
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (space_len(pos_)) {
        size_t next = pos_;
        while (const size_t n = space_len(next)) next += n;
        if (next >= s_.size() || !keyword_at(next).empty() || !lucene_operator_at(next).empty() ||
            is_special(s_[next])) {
          break;
        }
        if (!end_word(pos_)) return false;
        out.text.append(s_.substr(pos_, next - pos_));
        out.pieces.back().append(s_.substr(pos_, next - pos_));
        pos_ = word = out.last_word = next;
        continue;
      }
      if (c == '*') {
        if (out.first_wildcard == kNone) out.first_wildcard = pos_;
        out.text += '*';
        out.pieces.emplace_back();
        ++pos_;
        continue;
      }
      if (c == '\\') {
        const size_t before = out.text.size();
        const size_t n = read_escape(out.text);
        if (n == kNone) return false;
        out.pieces.back().append(out.text, before);
        pos_ += n;
        continue;
      }
      if (is_special(c)) break;
      out.text += c;
      out.pieces.back() += c;
      ++pos_;
    }
    return end_word(pos_);
  }

  // One escape in an unquoted literal at pos_ (the backslash): appends what it stands for and
  // returns its length, or kNone after an error.
  size_t read_escape(std::string& out) {
    if (pos_ + 1 >= s_.size()) {
      fail(pos_, "a '\\' at the end needs a character to escape");
      return kNone;
    }
    const char e = s_[pos_ + 1];
    if (is_special(e) || e == '\\' || e == '*') {
      out += e;
      return 2;
    }
    // An escaped keyword keeps its letters as written (Kibana's EscapedKeyword), in any case:
    // `\and` is the word "and", `\andy` the word "andy". `\not` must be a whole word, or `\n` is
    // the newline escape (`\nothing`), as in Kibana, whose grammar tries `\n` first.
    for (const std::string_view kw : {"or", "and", "not"}) {
      const std::string_view next = s_.substr(pos_ + 1, kw.size());
      bool same = next.size() == kw.size();
      for (size_t i = 0; same && i < kw.size(); ++i) {
        same = next[i] == kw[i] || next[i] == kw[i] - 'a' + 'A';
      }
      if (same && (next[0] != 'n' || word_ends(pos_ + 1 + kw.size()))) {
        out.append(next);
        return 1 + kw.size();
      }
    }
    if (e == 't' || e == 'r' || e == 'n') {
      out += e == 't' ? '\t' : e == 'r' ? '\r' : '\n';
      return 2;
    }
    if (e == 'u') {
      const size_t u = read_unicode(pos_, out);
      if (u != 0) return u;
    }
    fail(pos_,
         "invalid escape: '\\' escapes only \\ ( ) : < > \" * { }, the words and/or/not, "
         "\\t \\r \\n and \\uXXXX; quote the value to keep a backslash");
    return kNone;
  }

  // Names what stands at `p` where `expected` should be, with the KQL spelling when it is a
  // known mistake.
  NodePtr unexpected(size_t p, const std::string& expected) {
    if (p >= s_.size()) return fail(p, "expected " + expected);
    const char c = s_[p];
    if (const std::string_view op = lucene_operator_at(p); !op.empty()) {
      return fail(p, "'" + std::string(op) + "' is not KQL; write '" + (op == "&&" ? "and" : "or") +
                         "' between conditions");
    }
    if (keyword_at(p) == "not") {
      return fail(p, "'not' needs 'and' or 'or' before it: write 'and not'");
    }
    if ((c == ':' || c == '<' || c == '>') && last_literal_end_ <= p) {
      size_t gap = last_literal_end_;
      while (const size_t n = space_len(gap)) gap += n;
      if (gap == p && last_word_ != kNone) {
        // `a:1 b:2`: the value ran on into the next condition.
        const char first = s_[last_word_];
        if (first == '-' || first == '!') {
          return fail(last_word_,
                      std::string("'") + first + "' is not KQL; write 'and not field:value'");
        }
        if (first == '+') return fail(last_word_, "'+' is not KQL; write 'and field:value'");
        return fail(last_word_, "expected 'and' or 'or' before this condition");
      }
      if (p == last_literal_end_) {
        return fail(
            p, std::string("a '") + c + "' in a value needs quotes or an escape ('\\" + c + "')");
      }
    }
    if (c == '~' || c == '^') return fail(p, kFuzzyMessage);
    if (c == ')' && expected.ends_with("end of the query")) {
      return fail(p, "unexpected ')' without a matching '('");
    }
    return fail(p, "expected " + expected);
  }

  std::string_view s_;
  EpochMillis now_ms_;
  const Query::Hasher* hasher_;
  size_t pos_ = 0;
  std::vector<std::string> fields_;
  // The end of the last unquoted value and the start of its last word (kNone for one word), for
  // diagnosing a value that ran on into the next condition.
  size_t last_literal_end_ = kNone;
  size_t last_word_ = kNone;
  size_t error_pos_ = kNone;
  std::string error_;
};

}  // namespace

Result<EpochMillis> parse_time(std::string_view text, EpochMillis now_ms) {
  EpochMillis t;
  size_t pos;
  if (text.starts_with("now")) {
    t = now_ms;
    pos = 3;
  } else {
    const size_t bars = text.find("||");
    if (bars == kNone) return parse_anchor(text);
    auto anchor = parse_anchor(text.substr(0, bars));
    if (!anchor) return anchor.status();
    t = *anchor;
    pos = bars + 2;
  }
  if (pos < text.size() && (t < kMinMillis || t > kMaxMillis)) {
    return Status::invalid_argument("date math anchor beyond years 0000..9999");
  }
  while (pos < text.size()) {
    const char op = text[pos++];
    if (op != '+' && op != '-' && op != '/') {
      return Status::invalid_argument("date math expects '+', '-' or '/' after the anchor");
    }
    int64_t amount = 1;
    if (op != '/' && pos < text.size() && is_digit(text[pos])) {
      const size_t from = pos;
      while (pos < text.size() && is_digit(text[pos])) ++pos;
      const auto [end, ec] = std::from_chars(text.data() + from, text.data() + pos, amount);
      if (ec != std::errc() || amount > kMaxAmount) {
        return Status::invalid_argument("date math amount is too large");
      }
    }
    if (pos >= text.size() || !is_unit(text[pos])) {
      return Status::invalid_argument("date math needs a unit: y M w d h H m s");
    }
    const char unit = text[pos++];
    const int64_t signed_amount = op == '-' ? -amount : amount;
    if (op == '/') {
      t = round_down(t, unit);
    } else if (unit == 'y' || unit == 'M') {
      if (!add_months(t, unit == 'y' ? signed_amount * 12 : signed_amount)) {
        return Status::invalid_argument("date math leaves years 0000..9999");
      }
    } else {
      t += signed_amount * unit_millis(unit);  // |amount * unit| < 2^61: no overflow
    }
    if (t < kMinMillis || t > kMaxMillis) {
      return Status::invalid_argument("date math leaves years 0000..9999");
    }
  }
  return t;
}

Result<Query> Query::parse(std::string_view text, size_t* error_position, EpochMillis now_ms,
                           const Hasher* hasher) {
  size_t pos = 0;
  std::string message;
  Query q;
  if (text.size() > kMaxLength) {
    pos = kMaxLength;
    message = "the query is longer than 8192 bytes";
  } else {
    Parser parser(text, now_ms, hasher);
    q.root_ = parser.parse();
    if (!parser.failed()) {
      q.fields_ = parser.take_fields();
      return q;
    }
    pos = parser.error_pos();
    message = parser.error();
  }
  if (error_position) *error_position = pos;
  return Status::invalid_argument("position " + std::to_string(pos) + ": " + message);
}

Query::Query() = default;
Query::~Query() = default;
Query::Query(Query&&) noexcept = default;
Query& Query::operator=(Query&&) noexcept = default;

bool Query::matches(const Record& record) const {
  if (!root_) return true;
  std::vector<Value> scratch;
  return eval(*root_, fields_, record, scratch);
}

const std::vector<std::string>& Query::fields() const { return fields_; }

bool Query::match_all() const { return root_ == nullptr; }

namespace {

void put_token_number(std::string& out, double x) {
  if (x == 0) x = 0;  // -0 equals 0
  uint64_t bits = 0;
  std::memcpy(&bits, &x, 8);
  for (int i = 7; i >= 0; --i) out += static_cast<char>((bits >> (8 * i)) & 0xff);
}

// A long token stands as its length and hash (a key stays short; a collision only makes the
// search read a record its filter then rejects).
std::string finish_token(std::string t) {
  constexpr size_t kMaxToken = 128;
  if (t.size() <= kMaxToken) return t;
  uint64_t h = 14695981039346656037ull;
  for (const unsigned char c : t) {
    h ^= c;
    h *= 1099511628211ull;
  }
  std::string out = "h";
  out += t[0];  // the kind
  for (int i = 7; i >= 0; --i) out += static_cast<char>((h >> (8 * i)) & 0xff);
  out += std::to_string(t.size());
  return out;
}

// The tokens of every value a `f:v` term without wildcards finds equal (value_equals).
std::vector<std::string> term_tokens(const Node& n) {
  std::vector<std::string> out;
  out.push_back(finish_token("s" + n.text));
  if (n.number) {
    std::string t = "n";
    put_token_number(t, *n.number);
    out.push_back(std::move(t));
  }
  if (n.text == "true") out.emplace_back("t");
  if (n.text == "false") out.emplace_back("f");
  if (!n.quoted && n.text == "null") out.emplace_back("z");
  return out;
}

using Terms = std::vector<std::pair<std::string, std::string>>;

std::optional<Terms> plan(const Node& n, const std::vector<std::string>& fields,
                          const Query::Canonical& canonical, size_t max_terms) {
  switch (n.kind) {
    case Node::Kind::kEquals: {
      if (n.pieces.size() > 1) return std::nullopt;
      auto field = canonical(fields[n.field]);
      if (!field) return std::nullopt;
      Terms out;
      for (auto& t : term_tokens(n)) out.emplace_back(*field, std::move(t));
      return out;
    }
    case Node::Kind::kAnd: {
      std::optional<Terms> best;
      for (const auto& c : n.children) {
        auto p = plan(*c, fields, canonical, max_terms);
        if (p && (!best || p->size() < best->size())) best = std::move(p);
      }
      return best;
    }
    case Node::Kind::kOr: {
      Terms out;
      for (const auto& c : n.children) {
        auto p = plan(*c, fields, canonical, max_terms);
        if (!p) return std::nullopt;
        for (auto& t : *p) {
          if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(std::move(t));
        }
        if (out.size() > max_terms) return std::nullopt;
      }
      return out;
    }
    default:
      return std::nullopt;
  }
}

bool may(const Node& n, const std::vector<std::string>& fields, const BlockView& block) {
  switch (n.kind) {
    case Node::Kind::kAnd:
      for (const auto& c : n.children) {
        if (!may(*c, fields, block)) return false;
      }
      return true;
    case Node::Kind::kOr:
      for (const auto& c : n.children) {
        if (may(*c, fields, block)) return true;
      }
      return false;
    case Node::Kind::kNot:
      return true;  // the summary cannot say that every record matches the inner query
    case Node::Kind::kExists:
    case Node::Kind::kEquals:
    case Node::Kind::kRange:
      break;
  }
  const std::string& path = fields[n.field];
  const BlockView::Path p = block.lookup(path);
  if (!p.known) return true;
  switch (n.kind) {
    case Node::Kind::kExists:
      return p.strings || p.numbers || p.trues || p.falses || p.below;
    case Node::Kind::kEquals:
      if (n.pieces.size() > 1) return p.strings;
      // value_equals, against what the block may hold (dates are Verity's own fields: unknown).
      if (p.strings && block.may_hold(path, n.text)) return true;
      if (p.numbers && n.number && p.min <= *n.number && *n.number <= p.max) return true;
      if (n.text == "true" && p.trues) return true;
      if (n.text == "false" && p.falses) return true;
      return !n.quoted && n.text == "null" && p.nulls;
    default: {  // kRange: value_compares
      if (p.strings) return true;
      if (!p.numbers || !n.number) return false;
      const double x = *n.number;
      switch (n.op) {
        case Node::Op::kLt:
          return p.min < x;
        case Node::Op::kLe:
          return p.min <= x;
        case Node::Op::kGt:
          return p.max > x;
        case Node::Op::kGe:
          return p.max >= x;
      }
      return true;
    }
  }
}

}  // namespace

std::string index_token(const Value& v) {
  switch (v.type) {
    case Value::Type::kString:
      return finish_token("s" + std::string(v.text));
    case Value::Type::kNumber: {
      std::string t = "n";
      put_token_number(t, v.number);
      return t;
    }
    case Value::Type::kBool:
      return v.boolean ? "t" : "f";
    case Value::Type::kNull:
      return "z";
    case Value::Type::kObject:
      break;
  }
  return {};
}

bool Query::may_match(const BlockView& block) const {
  return !root_ || may(*root_, fields_, block);
}

std::optional<std::vector<std::pair<std::string, std::string>>> Query::index_terms(
    const Canonical& canonical, size_t max_terms) const {
  if (!root_) return std::nullopt;
  auto p = plan(*root_, fields_, canonical, max_terms);
  if (p && (p->empty() || p->size() > max_terms)) return std::nullopt;
  return p;
}

}  // namespace verity::query::kql
