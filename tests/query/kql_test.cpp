// KQL (query/kql): the grammar, every error with its position and KQL suggestion, the matching
// semantics and date math. Then the properties: random queries printed to KQL text must parse and
// match exactly as an independent evaluator over the generated query says, and random bytes never
// crash the parser and always get an error position inside the text.

#include "verity/query/kql.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace verity::query::kql {
namespace {

constexpr EpochMillis kNow = 1795170645123;  // 2026-11-20T10:30:45.123Z, a Friday
constexpr int64_t kDay = 86'400'000;

EpochMillis utc(int64_t y, unsigned mo, unsigned d, int64_t h = 0, int64_t mi = 0, int64_t s = 0,
                int64_t ms = 0) {
  return days_from_civil(y, mo, d) * kDay + h * 3'600'000 + mi * 60'000 + s * 1000 + ms;
}

// One scalar of a TestRecord, owning its text.
struct Item {
  Value::Type type = Value::Type::kNull;
  bool boolean = false;
  double number = 0;
  bool date = false;
  std::string text;
};
Item str(std::string s) { return {Value::Type::kString, false, 0, false, std::move(s)}; }
Item num(double d) { return {Value::Type::kNumber, false, d, false, ""}; }
Item when(EpochMillis ms) {
  return {Value::Type::kNumber, false, static_cast<double>(ms), true, ""};
}
Item flag(bool b) { return {Value::Type::kBool, b, 0, false, ""}; }
Item null() { return {}; }

// A record over a map from dotted path to its scalars (arrays already flattened), the way the
// search sees a stored document. A path mapped to no items exists but holds nothing (an empty
// array or an object).
class TestRecord : public Record {
 public:
  TestRecord() = default;
  TestRecord(std::initializer_list<std::pair<const std::string, std::vector<Item>>> init)
      : map_(init) {}

  bool values(std::string_view path, std::vector<Value>& out) const override {
    const auto it = map_.find(path);
    if (it == map_.end()) return false;
    for (const Item& i : it->second) {
      Value v;
      v.type = i.type;
      v.boolean = i.boolean;
      v.number = i.number;
      v.date = i.date;
      v.text = i.text;
      out.push_back(v);
    }
    return true;
  }

  std::map<std::string, std::vector<Item>, std::less<>> map_;
};

// Query text with control and non-ASCII bytes shown as \xNN, for failure messages.
std::string visible(std::string_view s) {
  std::string out;
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7F) {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", b);
      out += buf;
    }
  }
  return out;
}

Query parse_ok(std::string_view text, EpochMillis now = kNow) {
  auto q = Query::parse(text, nullptr, now);
  EXPECT_TRUE(q.is_ok()) << visible(text) << ": " << q.status().message();
  if (!q) return Query();
  return std::move(q).value();
}

bool matches(std::string_view text, const Record& r) { return parse_ok(text).matches(r); }

// Checks that `text` fails at `position` with a message holding `fragment`.
void expect_error(std::string_view text, size_t position, std::string_view fragment) {
  SCOPED_TRACE(visible(text));
  size_t pos = 12345;
  auto q = Query::parse(text, &pos, kNow);
  ASSERT_FALSE(q.is_ok());
  EXPECT_EQ(q.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(pos, position);
  const std::string m = q.status().message();
  EXPECT_TRUE(m.starts_with("position " + std::to_string(position) + ": ")) << m;
  EXPECT_NE(m.find(fragment), std::string::npos) << m;
}

// ---------------------------------------------------------------------------------------------
// Parsing

TEST(KqlParseTest, EmptyQueryMatchesEveryRecord) {
  for (const char* text : {"", "   ", " \t\r\n", "\xC2\xA0"}) {
    const Query q = parse_ok(text);
    EXPECT_TRUE(q.match_all()) << visible(text);
    EXPECT_TRUE(q.fields().empty());
    EXPECT_TRUE(q.matches(TestRecord{}));
  }
  EXPECT_TRUE(Query().match_all());
  EXPECT_TRUE(Query().matches(TestRecord{}));
  EXPECT_FALSE(parse_ok("a:1").match_all());
}

TEST(KqlParseTest, FieldsInOrderOfFirstAppearance) {
  const Query q = parse_ok("b:1 or a:(2 or 3) and not b:3 or c > 4 or d:* or \"e f\":x or a < 1");
  EXPECT_EQ(q.fields(), (std::vector<std::string>{"b", "a", "c", "d", "e f"}));
  EXPECT_EQ(parse_ok("prediction.label:x").fields(), std::vector<std::string>{"prediction.label"});
}

TEST(KqlParseTest, FieldNames) {
  const TestRecord r{{"credit risk", {str("x")}}, {"a:b", {str("y")}},   {"模型", {str("信用")}},
                     {"@timestamp", {str("t")}},  {"order", {str("o")}}, {"nothing", {str("n")}},
                     {"not", {str("k")}},         {"a*b", {str("s")}}};
  EXPECT_TRUE(matches("credit risk:x", r));  // a run of words, as in Kibana
  EXPECT_TRUE(matches("a\\:b:y", r));
  EXPECT_TRUE(matches("\"a:b\":y", r));
  EXPECT_TRUE(matches("模型:信用", r));
  EXPECT_TRUE(matches("@timestamp:t", r));
  EXPECT_TRUE(matches("order:o", r));  // "or" only as a whole word
  EXPECT_TRUE(matches("nothing:n", r));
  EXPECT_TRUE(matches("not:k", r));  // "not" before ':' names a field
  EXPECT_TRUE(matches("a\\*b:s", r));
  EXPECT_TRUE(matches("\"a*b\":s", r));
  EXPECT_TRUE(matches("  credit risk  :  x  ", r));
}

TEST(KqlParseTest, PrecedenceNotAndOr) {
  // Every assignment of a, b, c to 1 or 0: `or` binds loosest, `not` tightest.
  for (int bits = 0; bits < 8; ++bits) {
    const TestRecord r{
        {"a", {num(bits & 1)}}, {"b", {num((bits >> 1) & 1)}}, {"c", {num((bits >> 2) & 1)}}};
    SCOPED_TRACE(bits);
    EXPECT_EQ(matches("a:1 or b:1 and c:1", r), matches("a:1 or (b:1 and c:1)", r));
    EXPECT_EQ(matches("a:1 and b:1 or c:1", r), matches("(a:1 and b:1) or c:1", r));
    EXPECT_EQ(matches("not a:1 and b:1", r), matches("(not a:1) and b:1", r));
    EXPECT_EQ(matches("not a:1 or b:1", r), matches("(not a:1) or b:1", r));
    EXPECT_EQ(matches("not not a:1", r), matches("a:1", r));
    EXPECT_EQ(matches("a:(1 or 0) and not b:(1 and not 0)", r),
              matches("(a:1 or a:0) and not (b:1 and not b:0)", r));
  }
  // And the groupings differ somewhere, so the comparisons above mean something.
  const TestRecord r{{"a", {num(1)}}, {"b", {num(0)}}, {"c", {num(0)}}};
  EXPECT_TRUE(matches("a:1 or b:1 and c:1", r));
  EXPECT_FALSE(matches("(a:1 or b:1) and c:1", r));
  const TestRecord s{{"a", {num(1)}}, {"b", {num(0)}}};
  EXPECT_FALSE(matches("not a:1 and b:0", s));
  EXPECT_TRUE(matches("not (a:1 and b:0) or a:1", s));
}

TEST(KqlParseTest, KeywordsAreCaseInsensitiveWholeWords) {
  const TestRecord r{{"a", {num(1)}}, {"b", {num(2)}}};
  EXPECT_TRUE(matches("a:1 AND b:2", r));
  EXPECT_TRUE(matches("a:0 Or b:2", r));
  EXPECT_TRUE(matches("NOT a:0", r));
  EXPECT_TRUE(matches("nOt a:0 aNd b:(1 OR 2)", r));
  EXPECT_TRUE(matches("not(a:0)", r));
  EXPECT_TRUE(matches("(a:1)and(b:2)", r));
  EXPECT_TRUE(matches("a:1\tand\nb:2", r));
  EXPECT_TRUE(
      matches("a:1\xC2\xA0"
              "and\xC2\xA0"
              "b:2",
              r));  // U+00A0, as in Kibana
}

TEST(KqlParseTest, DeepNestingUpToTheLimit) {
  const TestRecord r{{"a", {num(1)}}};
  EXPECT_TRUE(matches(std::string(64, '(') + "a:1" + std::string(64, ')'), r));
  std::string nots;
  for (int i = 0; i < 64; ++i) nots += "not ";
  EXPECT_TRUE(matches(nots + "a:1", r));  // an even number
  EXPECT_TRUE(matches("a:" + std::string(63, '(') + "1" + std::string(63, ')'), r));
  // Long flat chains are not nesting.
  std::string chain = "a:0";
  for (int i = 0; i < 1000; ++i) chain += " or a:0";
  EXPECT_FALSE(matches(chain, r));
  EXPECT_TRUE(matches(chain + " or a:1", r));
}

TEST(KqlParseTest, LengthUpToTheLimit) {
  const std::string value(8190, 'x');
  const TestRecord r{{"a", {str(value)}}};
  EXPECT_TRUE(matches("a:" + value, r));
  expect_error("a:" + value + "x", 8192, "longer than 8192 bytes");
}

// ---------------------------------------------------------------------------------------------
// Values and matching

TEST(KqlMatchTest, UnquotedValueIsOneRunOfWords) {
  const TestRecord r{{"model", {str("credit risk")}}, {"two", {str("a  b")}}};
  EXPECT_TRUE(matches("model:credit risk", r));
  EXPECT_TRUE(matches("model:   credit risk   ", r));
  EXPECT_TRUE(matches("model:credit risk and two:a  b", r));  // space inside is kept as written
  EXPECT_FALSE(matches("two:a b", r));
  EXPECT_FALSE(matches("model:credit", r));
  EXPECT_FALSE(matches("model:Credit Risk", r));  // keywords: case-sensitive
  EXPECT_TRUE(matches("model:(credit risk)", r));
}

TEST(KqlMatchTest, QuotedPhraseIsExactWithoutWildcards) {
  const TestRecord r{{"m", {str("a*c")}}, {"p", {str("x and y")}}, {"e", {str("")}}};
  EXPECT_TRUE(matches("m:\"a*c\"", r));
  EXPECT_FALSE(matches("m:\"a*\"", r));
  EXPECT_TRUE(matches("m:a*", r));
  EXPECT_TRUE(matches("p:\"x and y\"", r));
  EXPECT_TRUE(matches("p:x \\and y", r));
  EXPECT_TRUE(matches("e:\"\"", r));
  EXPECT_FALSE(matches("m:\"\"", r));
}

TEST(KqlMatchTest, Wildcards) {
  const TestRecord r{{"m", {str("credit risk")}}, {"w", {str("abba")}}, {"x", {str("aba")}}};
  EXPECT_TRUE(matches("m:cred*", r));
  EXPECT_TRUE(matches("m:*risk", r));
  EXPECT_TRUE(matches("m:c*t r*k", r));
  EXPECT_TRUE(matches("m:*", r));
  EXPECT_TRUE(matches("m:**", r));
  EXPECT_TRUE(matches("m:*e*i*", r));
  EXPECT_FALSE(matches("m:Cred*", r));  // case-sensitive
  EXPECT_FALSE(matches("m:cred\\*", r));
  EXPECT_TRUE(matches("w:ab*ba", r));
  EXPECT_FALSE(matches("x:ab*ba", r));  // prefix and suffix may not overlap
  EXPECT_TRUE(matches("x:a*b*a", r));
  EXPECT_FALSE(matches("x:a*b*b*a", r));
  // A wildcard matches strings only.
  const TestRecord n{{"n", {num(12)}}, {"b", {flag(true)}}};
  EXPECT_FALSE(matches("n:1*", n));
  EXPECT_FALSE(matches("b:t*", n));
}

TEST(KqlMatchTest, UnquotedEscapes) {
  const TestRecord r{{"f", {str("a(b):c<d>\"e\"*{g}\\h")}},
                     {"k", {str("and"), str("OR"), str("not"), str("andy")}},
                     {"t", {str("a\tb\nc\rd")}},
                     {"u", {str("café 😀")}},
                     {"nl", {str("\nothing")}}};
  EXPECT_TRUE(matches("f:a\\(b\\)\\:c\\<d\\>\\\"e\\\"\\*\\{g\\}\\\\h", r));
  EXPECT_TRUE(matches("k:\\and and k:\\OR and k:\\not and k:\\andy", r));
  EXPECT_TRUE(matches("k:(\\and or x)", r));
  EXPECT_TRUE(matches("t:a\\tb\\nc\\rd", r));
  EXPECT_TRUE(matches("u:caf\\u00e9 \\uD83D\\uDE00", r));
  EXPECT_TRUE(matches("u:caf\\u00E9 😀", r));
  EXPECT_TRUE(matches("nl:\\nothing", r));  // `\n` then "othing", as in Kibana
  EXPECT_TRUE(matches("k:\\u006eot", r));
}

TEST(KqlMatchTest, QuotedEscapes) {
  const TestRecord r{{"f", {str("say \"hi\" \\ there")}},
                     {"g", {str("a\\qb")}},
                     {"t", {str("a\tb\nc")}},
                     {"u", {str("é😀")}},
                     {"s", {str("(a:b) and <c> or {d}")}}};
  EXPECT_TRUE(matches("f:\"say \\\"hi\\\" \\\\ there\"", r));
  EXPECT_TRUE(matches("g:\"a\\qb\"", r));  // a backslash before anything else is itself
  EXPECT_TRUE(matches("t:\"a\\tb\\nc\"", r));
  EXPECT_TRUE(matches("t:\"a\tb\nc\"", r));
  EXPECT_TRUE(matches("u:\"\\u00e9\\ud83d\\ude00\"", r));
  EXPECT_TRUE(matches("s:\"(a:b) and <c> or {d}\"", r));
  EXPECT_TRUE(matches("g:\"a\\\\qb\"", r));  // `\\` is one backslash
  EXPECT_TRUE(matches("g:\"a\\\\\\u0071b\"", r));
}

TEST(KqlMatchTest, Exists) {
  const TestRecord r{{"v", {str("x")}}, {"n", {null()}},      {"nv", {null(), num(1)}},
                     {"empty", {}},     {"f", {flag(false)}}, {"s", {str("")}}};
  EXPECT_TRUE(matches("v:*", r));
  EXPECT_FALSE(matches("n:*", r));  // only null: Elasticsearch's exists says no
  EXPECT_TRUE(matches("nv:*", r));
  EXPECT_FALSE(matches("empty:*", r));
  EXPECT_FALSE(matches("absent:*", r));
  EXPECT_TRUE(matches("f:*", r));
  EXPECT_TRUE(matches("s:*", r));
  EXPECT_TRUE(matches("not absent:*", r));
  EXPECT_TRUE(matches("v:(*)", r));
  EXPECT_TRUE(matches("n:(* or null)", r));
  EXPECT_FALSE(matches("v:\"*\"", r));  // the character
}

TEST(KqlMatchTest, NullTrueFalse) {
  const TestRecord r{{"n", {null()}},        {"t", {flag(true)}},   {"f", {flag(false)}},
                     {"sn", {str("null")}},  {"st", {str("true")}}, {"num", {num(1)}},
                     {"caps", {str("TRUE")}}};
  EXPECT_TRUE(matches("n:null", r));
  EXPECT_FALSE(matches("n:\"null\"", r));  // quoted: only the string
  EXPECT_TRUE(matches("sn:null", r));
  EXPECT_TRUE(matches("sn:\"null\"", r));
  EXPECT_TRUE(matches("t:true", r));
  EXPECT_TRUE(matches("t:\"true\"", r));
  EXPECT_FALSE(matches("t:false", r));
  EXPECT_FALSE(matches("t:TRUE", r));
  EXPECT_FALSE(matches("t:1", r));
  EXPECT_TRUE(matches("f:false", r));
  EXPECT_TRUE(matches("st:true", r));
  EXPECT_FALSE(matches("num:true", r));
  EXPECT_FALSE(matches("n:true or t:null or f:null", r));
  EXPECT_TRUE(matches("caps:TRUE", r));
  EXPECT_TRUE(matches("not absent:null", r));
}

TEST(KqlMatchTest, Numbers) {
  const TestRecord r{{"score", {num(0.5)}}, {"count", {num(7)}},  {"neg", {num(-3)}},
                     {"big", {num(1e6)}},   {"text", {str("7")}}, {"nan", {num(std::nan(""))}}};
  EXPECT_TRUE(matches("score:0.5", r));
  EXPECT_TRUE(matches("score:5e-1", r));
  EXPECT_TRUE(matches("score:\"0.50\"", r));
  EXPECT_TRUE(matches("count:007", r));
  EXPECT_TRUE(matches("neg:-3", r));
  EXPECT_TRUE(matches("big:1e6 and big:1000000", r));
  EXPECT_FALSE(matches("count:7.5", r));
  EXPECT_FALSE(matches("count:inf or count:nan or count:+7.5 or count:++7", r));
  EXPECT_TRUE(matches("count:+7 and count < +8 and score:+.5", r));  // as Elasticsearch reads them
  EXPECT_TRUE(matches("text:7", r));
  EXPECT_FALSE(matches("text:007", r));  // a string is a keyword
  EXPECT_FALSE(matches("nan:nan", r));
  EXPECT_TRUE(matches("score >= 0.5 and score <= 0.5 and score > 0.25 and score < 1", r));
  EXPECT_FALSE(matches("score > 0.5 or score < 0.5", r));
  EXPECT_TRUE(matches("neg < -2.5", r));
  EXPECT_TRUE(matches("big>999999", r));
  EXPECT_FALSE(matches("count > abc or count < abc", r));  // not a number: never compares
  EXPECT_FALSE(matches("nan > 0 or nan < 0 or nan >= 0", r));
  EXPECT_TRUE(matches("count:(1 or 7)", r));
}

TEST(KqlMatchTest, Dates) {
  const EpochMillis t = utc(2026, 11, 20, 10);
  const TestRecord r{{"@timestamp", {when(t)}}, {"label_time", {when(t + 500)}}};
  EXPECT_TRUE(matches("@timestamp:\"2026-11-20T10:00:00Z\"", r));
  EXPECT_TRUE(matches("@timestamp:2026-11-20T10\\:00\\:00Z", r));
  EXPECT_TRUE(matches("@timestamp:\"2026-11-20T11:00:00+01:00\"", r));
  EXPECT_TRUE(matches("@timestamp:1795168800000", r));
  EXPECT_TRUE(matches("label_time:\"2026-11-20T10:00:00.5Z\"", r));
  EXPECT_FALSE(matches("@timestamp:2026-11-20", r));  // midnight, not the whole day
  EXPECT_FALSE(matches("@timestamp:\"2026-11-20T10:00:00.001Z\"", r));
  EXPECT_TRUE(matches("@timestamp >= 2026-11-20 and @timestamp < 2026-11-21", r));
  EXPECT_TRUE(matches("@timestamp >= now-1h and @timestamp < now", r));
  EXPECT_FALSE(matches("@timestamp:now-30m-45s-123ms", r));  // `ms` is no unit
  EXPECT_TRUE(matches("@timestamp:\"now/h\"", r));
  EXPECT_TRUE(matches("@timestamp:now/h", r));
  EXPECT_TRUE(matches("@timestamp > \"2026-11-19||+1d\"", r));
  EXPECT_TRUE(matches("@timestamp <= \"2026-11-20T10:00:00Z\"", r));
  EXPECT_FALSE(matches("@timestamp < \"2026-11-20T10:00:00Z\"", r));
  EXPECT_FALSE(matches("@timestamp > yesterday or @timestamp:yesterday", r));
  EXPECT_FALSE(matches("@timestamp:2026*", r));  // wildcards match strings only
  // A date math query reads `now` once, at parse.
  const TestRecord later{{"@timestamp", {when(kNow - kDay)}}};
  EXPECT_TRUE(parse_ok("@timestamp:now-1d", kNow).matches(later));
  EXPECT_FALSE(parse_ok("@timestamp:now-1d", kNow + 1).matches(later));
}

TEST(KqlMatchTest, StringRangesCompareBytes) {
  const TestRecord r{{"v", {str("m")}}, {"u", {str("é")}}, {"e", {str("")}}};
  EXPECT_TRUE(matches("v > l and v < n and v >= m and v <= m", r));
  EXPECT_TRUE(matches("v < ma", r));
  EXPECT_FALSE(matches("v > m or v < m", r));
  EXPECT_TRUE(matches("v > M", r));  // bytes: 'm' > 'M'
  EXPECT_TRUE(matches("u > z", r));  // UTF-8 bytes above ASCII, compared unsigned
  EXPECT_TRUE(matches("e < a and e >= \"\"", r));
  EXPECT_FALSE(matches("v > m*", r));  // '*' compared as a character: "m" < "m*"
  EXPECT_TRUE(matches("v < m*", r));
}

TEST(KqlMatchTest, NullAndBooleansNeverCompare) {
  const TestRecord r{{"n", {null()}}, {"b", {flag(true)}}};
  for (const char* q :
       {"n < a", "n > a", "n >= null", "n <= null", "b >= true", "b <= true", "b > 0", "b < 2"}) {
    EXPECT_FALSE(matches(q, r)) << q;
  }
}

TEST(KqlMatchTest, ArraysMatchAnyElement) {
  const TestRecord r{{"tags", {str("a"), str("b")}}, {"mixed", {null(), num(3), str("x")}}};
  EXPECT_TRUE(matches("tags:a and tags:b", r));
  EXPECT_TRUE(matches("tags:(a and b)", r));  // each term some element, not the same one
  EXPECT_FALSE(matches("tags:(a and not b)", r));
  EXPECT_TRUE(matches("tags:(a and not c)", r));
  EXPECT_FALSE(matches("not tags:a", r));
  EXPECT_TRUE(matches("mixed:3 and mixed:x and mixed:null and mixed > 2 and mixed < y", r));
  EXPECT_TRUE(matches("tags > a", r));
}

TEST(KqlMatchTest, NotOfAnAbsentFieldMatches) {
  const TestRecord r{{"present", {str("x")}}};
  EXPECT_TRUE(matches("not absent:x", r));
  EXPECT_TRUE(matches("not absent > 1", r));
  EXPECT_TRUE(matches("absent:(not x)", r));
  EXPECT_FALSE(matches("absent:x", r));
  EXPECT_FALSE(matches("absent < 1 or absent >= 1", r));
  EXPECT_FALSE(matches("not present:x", r));
}

TEST(KqlMatchTest, ValueListsApplyToTheirField) {
  const TestRecord r{{"m", {str("churn")}}, {"v", {str("2")}}};
  EXPECT_TRUE(matches("m:(fraud or churn)", r));
  EXPECT_FALSE(matches("m:(fraud or credit)", r));
  EXPECT_TRUE(matches("m:(not fraud)", r));
  EXPECT_TRUE(matches("m:(ch* and not (fraud or \"credit\"))", r));
  EXPECT_TRUE(matches("m:((churn)) and v:(1 or 2 or 3)", r));
  EXPECT_TRUE(matches("m:( churn )", r));
}

// ---------------------------------------------------------------------------------------------
// Errors: position and the KQL spelling

// `f:~"raw"` matches the masked form of the raw value (masking's hash action), whatever the raw
// value holds; without masking it is an error at the '~'.
TEST(KqlMatchTest, MaskedValuesMatchTheirHashedForm) {
  const Query::Hasher hash = [](std::string_view raw) { return "hmac:" + std::string(raw) + "!"; };
  const TestRecord r{{"user_id", {str("hmac:u-42 \"x\"!")}}};
  auto q = Query::parse(R"(user_id:~"u-42 \"x\"")", nullptr, kNow, &hash);
  ASSERT_TRUE(q.is_ok()) << q.status().message();
  EXPECT_TRUE(q->matches(r));
  q = Query::parse(R"(user_id:~"u-43" or not user_id:~"u-42 \"x\"")", nullptr, kNow, &hash);
  ASSERT_TRUE(q.is_ok()) << q.status().message();
  EXPECT_FALSE(q->matches(r));
  // The raw value itself does not match what is stored.
  q = Query::parse(R"(user_id:"u-42")", nullptr, kNow, &hash);
  ASSERT_TRUE(q.is_ok());
  EXPECT_FALSE(q->matches(r));
  size_t pos = 0;
  q = Query::parse(R"(user_id:~"u-42")", &pos, kNow, nullptr);
  ASSERT_FALSE(q.is_ok());
  EXPECT_EQ(pos, 8u);
  EXPECT_NE(q.status().message().find("masking is off"), std::string::npos);
  // Unquoted, '~' is an ordinary character (as in KQL).
  q = Query::parse("user_id:~u-42", &pos, kNow, &hash);
  ASSERT_TRUE(q.is_ok());
  EXPECT_TRUE(q->matches(TestRecord{{"user_id", {str("~u-42")}}}));
}

TEST(KqlErrorTest, LuceneRangesSuggestComparisons) {
  expect_error("latency: [a TO b]", 9,
               "Lucene range '[a TO b]' is not KQL; write 'latency >= a and latency <= b'");
  expect_error("f:{1 TO 5}", 2, "write 'f > 1 and f < 5'");
  expect_error("f:[1 TO 5}", 2, "write 'f >= 1 and f < 5'");
  expect_error("f:[* TO 5]", 2, "write 'f <= 5'");
  expect_error("f:[1 TO *]", 2, "write 'f >= 1'");
  expect_error("a:1 and f:(x or [1 TO 2])", 16, "write 'f >= 1 and f <= 2'");
  // A value that cannot be echoed gets placeholders.
  expect_error("f:[\xC3\xA9 TO b]", 2, "write 'f >= a and f <= b'");
  // A '[' that starts no range is a character; '{' is never one.
  EXPECT_TRUE(matches("f:[x]", TestRecord{{"f", {str("[x]")}}}));
  expect_error("f:{x}", 2, "nested queries 'field:{...}' are not supported");
}

TEST(KqlErrorTest, LuceneSyntax) {
  expect_error("_exists_:model", 0, "Lucene '_exists_:model' is not KQL; write 'model:*'");
  expect_error("f:/ab.*c/", 2, "regular expressions '/.../' are not KQL");
  expect_error("f:(/x/ or y)", 3, "regular expressions");
  expect_error("a:1 && b:2", 4, "'&&' is not KQL; write 'and'");
  expect_error("a:1 || b:2", 4, "'||' is not KQL; write 'or'");
  expect_error("&& b:2", 0, "'&&' is not KQL");
  expect_error("!a:1", 0, "'!' is not KQL; write 'not field:value'");
  expect_error("a:1 and !b:2", 8, "'!' is not KQL");
  expect_error("+a:1", 0, "Lucene '+' prefix is not KQL");
  expect_error("-a:1", 0, "Lucene '-' prefix is not KQL; write 'not field:value'");
  expect_error("a:1 -b:2", 4, "'-' is not KQL; write 'and not field:value'");
  expect_error("a:1 +b:2", 4, "'+' is not KQL; write 'and field:value'");
  expect_error("a:1 !b:2", 4, "'!' is not KQL; write 'and not field:value'");
  expect_error("f:abc~", 5, "'~' (fuzzy, proximity) and '^' (boost) suffixes are not KQL");
  expect_error("f:abc~2", 5, "suffixes are not KQL");
  expect_error("f:abc^2", 5, "suffixes are not KQL");
  expect_error("f:abc~ and g:1", 5, "suffixes are not KQL");
  expect_error("f:\"a b\"~2", 7, "suffixes are not KQL");
  expect_error("f:\"x\"^3", 5, "suffixes are not KQL");
  expect_error("f > 5~", 5, "suffixes are not KQL");
  // Not suffixes: escaped, quoted, alone, or with text after.
  const TestRecord r{{"f", {str("abc~"), str("~"), str("a~b"), str("2^x")}}};
  EXPECT_TRUE(matches("f:\"abc~\" and f:~ and f:a~b and f:2^x and f:abc\\u007e", r));
}

TEST(KqlErrorTest, FieldLessTermsAndFieldNames) {
  expect_error("foo", 0, "a value needs a field: write 'field:foo'");
  expect_error("a:1 and foo bar", 8, "write 'field:foo bar'");
  expect_error("\"foo\"", 0, "write 'field:\"foo\"'");
  expect_error("f = 5", 2, "'=' is not KQL; write 'field:value'");
  expect_error("f != 5", 2, "'!=' is not KQL; write 'not field:value'");
  expect_error("f*:x", 1, "wildcards in field names are not supported");
  expect_error("a.*.b:x", 2, "wildcards in field names");
  expect_error("*:*", 0, "leave the query empty to match every record");
  expect_error("*", 0, "the empty query matches every record");
  expect_error(":x", 0, "expected a field name before ':'");
  expect_error("\"\":x", 0, "expected a field name");
  expect_error("a:1 and (b:2", 12, "missing ')' for the '(' at position 8");
  expect_error("a:1)", 3, "unexpected ')' without a matching '('");
  expect_error("()", 1, "expected a condition before ')'");
  expect_error("a:1 and", 7, "expected a condition");
  expect_error("a:1 and ", 8, "expected a condition");
  expect_error("or a:1", 0, "'or' needs a condition before it");
  expect_error("a:1 and or b:1", 8, "'or' needs a condition before it");
  expect_error("not", 3, "expected a condition");
  expect_error("{a:1}", 0, "unexpected '{'");
}

TEST(KqlErrorTest, Values) {
  expect_error("a:", 2, "expected a value after ':'");
  expect_error("a:   ", 5, "expected a value after ':'");
  expect_error("a:1 b:2", 4, "expected 'and' or 'or' before this condition");
  expect_error("a:x y > 3", 4, "expected 'and' or 'or' before this condition");
  expect_error("f:2026-11-20T10:00:00Z", 15, "a ':' in a value needs quotes or an escape ('\\:')");
  expect_error("f:a<b", 3, "a '<' in a value needs quotes or an escape");
  expect_error("a:\"x\" b:1", 6, "expected 'and', 'or' or the end of the query");
  expect_error("a:1 not b:2", 4, "'not' needs 'and' or 'or' before it: write 'and not'");
  expect_error("f:not a", 2, "write 'not f:value' or 'f:(not value)'");
  expect_error("f:(a or)", 7, "expected a value");
  expect_error("f:(a and b", 10, "missing ')' for the '(' at position 2");
  expect_error("f:(a b:c)", 5, "expected 'and' or 'or' before this condition");
  expect_error("f:(a:b)", 4, "a ':' in a value");
  expect_error("f:()", 3, "expected a value");
  expect_error("f::x", 2, "expected a value");
  expect_error("f:>5", 2, "a comparison takes no ':': write 'f > value'");
  expect_error("f >= ", 5, "expected a value after '>='");
  expect_error("f < (1 or 2)", 4, "expected one value after '<'");
  expect_error("f < and", 4, "expected one value after '<'");
  expect_error("f:and", 2, "expected a value before 'and'");
}

TEST(KqlErrorTest, Escapes) {
  expect_error("a:\"abc", 2, "unterminated quoted string");
  expect_error("a:\"abc\\\"", 2, "unterminated quoted string");
  expect_error("a:b\\q", 3, "invalid escape");
  expect_error("a:b\\", 3, "a '\\' at the end needs a character to escape");
  expect_error("a:b\\ c", 3, "invalid escape");
  expect_error("a:\\u12", 2, "invalid escape");
  expect_error("a:\\ud800", 2, "needs a low surrogate");
  expect_error("a:\\ud800\\u0041", 2, "needs a low surrogate");
  expect_error("a:\\udc00", 2, "lone low surrogate");
  expect_error("a:\"x\\ud83d\"", 4, "needs a low surrogate");
}

TEST(KqlErrorTest, Limits) {
  expect_error(std::string(65, '(') + "a:1" + std::string(65, ')'), 64, "nesting deeper than 64");
  std::string nots;
  for (int i = 0; i < 65; ++i) nots += "not ";
  expect_error(nots + "a:1", 256, "nesting deeper than 64");
  expect_error("a:" + std::string(65, '(') + "1" + std::string(65, ')'), 66,
               "nesting deeper than 64");
  expect_error("a:(not not " + std::string(62, '(') + "1" + std::string(62, ')') + ")", 72,
               "nesting deeper than 64");
  expect_error(std::string(9000, ' '), 8192, "longer than 8192 bytes");
}

// ---------------------------------------------------------------------------------------------
// parse_time

EpochMillis time_ok(std::string_view text) {
  auto t = parse_time(text, kNow);
  EXPECT_TRUE(t.is_ok()) << text << ": " << t.status().message();
  return t ? *t : -1;
}

TEST(KqlTimeTest, AbsoluteForms) {
  const EpochMillis t = utc(2026, 11, 20, 10);
  EXPECT_EQ(time_ok("2026-11-20T10:00:00Z"), t);
  EXPECT_EQ(time_ok("2026-11-20T11:00:00+01:00"), t);
  EXPECT_EQ(time_ok("2026-11-20t10:00:00.250z"), t + 250);
  EXPECT_EQ(time_ok("2026-11-20"), utc(2026, 11, 20));
  EXPECT_EQ(time_ok("1795168800000"), t);
  EXPECT_EQ(time_ok("0"), 0);
  EXPECT_EQ(time_ok("1969-12-31T23:59:59.999Z"), -1);
}

TEST(KqlTimeTest, DateMath) {
  EXPECT_EQ(time_ok("now"), kNow);
  EXPECT_EQ(time_ok("now-15m"), kNow - 15 * 60'000);
  EXPECT_EQ(time_ok("now+1h"), kNow + 3'600'000);
  EXPECT_EQ(time_ok("now-1H"), kNow - 3'600'000);
  EXPECT_EQ(time_ok("now+30s"), kNow + 30'000);
  EXPECT_EQ(time_ok("now-2w"), kNow - 14 * kDay);
  EXPECT_EQ(time_ok("now-d"), kNow - kDay);  // the amount defaults to 1
  EXPECT_EQ(time_ok("now-1d/d"), utc(2026, 11, 19));
  EXPECT_EQ(time_ok("now/d"), utc(2026, 11, 20));
  EXPECT_EQ(time_ok("now/w"), utc(2026, 11, 16));  // the Monday
  EXPECT_EQ(time_ok("now/M"), utc(2026, 11, 1));
  EXPECT_EQ(time_ok("now/y"), utc(2026, 1, 1));
  EXPECT_EQ(time_ok("now/h"), utc(2026, 11, 20, 10));
  EXPECT_EQ(time_ok("now/H"), utc(2026, 11, 20, 10));
  EXPECT_EQ(time_ok("now/m"), utc(2026, 11, 20, 10, 30));
  EXPECT_EQ(time_ok("now/s"), utc(2026, 11, 20, 10, 30, 45));
  EXPECT_EQ(time_ok("now+1d-2h/h+5m"), utc(2026, 11, 21, 8, 5));
  EXPECT_EQ(time_ok("2026-11-20||+1M/d"), utc(2026, 12, 20));
  EXPECT_EQ(time_ok("2026-11-20T10:00:00Z||-1y"), utc(2025, 11, 20, 10));
  EXPECT_EQ(time_ok("1795168800000||+1s"), utc(2026, 11, 20, 10, 0, 1));
  EXPECT_EQ(time_ok("2026-11-20||"), utc(2026, 11, 20));
  // Months and years by the calendar, clamping the day.
  EXPECT_EQ(time_ok("2026-01-31||+1M"), utc(2026, 2, 28));
  EXPECT_EQ(time_ok("2024-01-31||+1M"), utc(2024, 2, 29));
  EXPECT_EQ(time_ok("2024-02-29||+1y"), utc(2025, 2, 28));
  EXPECT_EQ(time_ok("2026-03-31T12:00:00Z||-1M"), utc(2026, 2, 28, 12));
  EXPECT_EQ(time_ok("2026-11-20||+14M"), utc(2028, 1, 20));
  EXPECT_EQ(time_ok("2026-11-20||-23M"), utc(2024, 12, 20));
  // Rounding before the epoch still rounds down.
  EXPECT_EQ(time_ok("1969-12-31T12:00:00Z||/d"), utc(1969, 12, 31));
  EXPECT_EQ(time_ok("1970-01-01||/w"), utc(1969, 12, 29));
  EXPECT_EQ(parse_time("now-1d", 0).value(), -kDay);
}

TEST(KqlTimeTest, Errors) {
  for (const char* bad : {"",
                          "yesterday",
                          "now-1x",
                          "now-",
                          "now+1",
                          "now*2",
                          "now-1ms",
                          "nowish",
                          "2026-13-01",
                          "2026-11-20T10:00:00",
                          "2026-11-20 junk",
                          "||+1d",
                          "2026-11-20||1d",
                          "2026-11-20||+1",
                          "99999999999999999999",
                          "253402300800000",
                          "now-99999999999d",
                          "now+3000000d",
                          "0001-01-01||-2y",
                          "9999-12-31||+1M",
                          "-5",
                          "now/2d",
                          "1.5"}) {
    auto t = parse_time(bad, kNow);
    EXPECT_FALSE(t.is_ok()) << bad;
    if (!t) {
      EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
      EXPECT_FALSE(t.status().message().empty());
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Property: random queries agree with an independent evaluator.

// A value as the generator made it: its text split at wildcards, whether quoted, and what it
// means as a number and as a time, known from how it was made (never by parsing it).
struct GenValue {
  std::vector<std::string> pieces{""};  // several only unquoted: a wildcard between each two
  bool quoted = false;
  std::optional<double> number;
  std::optional<EpochMillis> time;

  bool exists() const {
    return !quoted && pieces.size() == 2 && pieces[0].empty() && pieces[1].empty();
  }
};

// A value expression after `field:`.
struct GenExpr {
  enum class Kind { kValue, kAnd, kOr, kNot };
  Kind kind = Kind::kValue;
  GenValue value;
  std::vector<GenExpr> children;
};

struct GenQuery {
  enum class Kind { kField, kRange, kAnd, kOr, kNot };
  Kind kind = Kind::kField;
  std::string field;
  GenExpr expr;    // kField
  int op = 0;      // kRange: <, <=, >, >=
  GenValue bound;  // kRange
  std::vector<GenQuery> children;
};

// --- The oracle ---

// Wildcard matching by dynamic programming over bytes (the parser's is a greedy scan).
bool glob(const std::vector<std::string>& pieces, std::string_view s) {
  std::vector<int> pat;
  for (size_t i = 0; i < pieces.size(); ++i) {
    for (const char c : pieces[i]) pat.push_back(static_cast<unsigned char>(c));
    if (i + 1 < pieces.size()) pat.push_back(-1);
  }
  // ok[j]: pat[0, i) matches s[0, j).
  std::vector<char> ok(s.size() + 1, 0);
  ok[0] = 1;
  for (const int p : pat) {
    std::vector<char> next(s.size() + 1, 0);
    for (size_t j = 0; j <= s.size(); ++j) {
      if (p == -1) {
        next[j] = ok[j] || (j > 0 && next[j - 1]);
      } else {
        next[j] = j > 0 && ok[j - 1] && static_cast<unsigned char>(s[j - 1]) == p;
      }
    }
    ok = std::move(next);
  }
  return ok[s.size()];
}

int compare_bytes(std::string_view a, std::string_view b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

bool oracle_equals(const GenValue& v, const Item& item) {
  if (v.pieces.size() > 1) return item.type == Value::Type::kString && glob(v.pieces, item.text);
  const std::string& t = v.pieces[0];
  switch (item.type) {
    case Value::Type::kNull:
      return !v.quoted && t == "null";
    case Value::Type::kBool:
      return t == (item.boolean ? "true" : "false");
    case Value::Type::kNumber:
      if (item.date) return v.time.has_value() && static_cast<double>(*v.time) == item.number;
      return v.number.has_value() && *v.number == item.number;
    case Value::Type::kString:
      return item.text == t;
    case Value::Type::kObject:
      return false;
  }
  return false;
}

bool oracle_compares(const GenValue& v, int op, const Item& item) {
  int c;
  if (item.type == Value::Type::kNumber) {
    std::optional<double> bound = v.number;
    if (item.date) {
      bound = v.time ? std::optional<double>(static_cast<double>(*v.time)) : std::nullopt;
    }
    if (!bound || std::isnan(item.number)) return false;
    c = item.number < *bound ? -1 : (item.number > *bound ? 1 : 0);
  } else if (item.type == Value::Type::kString) {
    c = compare_bytes(item.text, v.pieces[0]);
  } else {
    return false;
  }
  return op == 0 ? c < 0 : op == 1 ? c <= 0 : op == 2 ? c > 0 : c >= 0;
}

bool oracle_expr(const GenExpr& e, const std::vector<Item>& items) {
  switch (e.kind) {
    case GenExpr::Kind::kValue:
      for (const Item& i : items) {
        if (e.value.exists() ? i.type != Value::Type::kNull : oracle_equals(e.value, i)) {
          return true;
        }
      }
      return false;
    case GenExpr::Kind::kAnd:
      for (const auto& c : e.children) {
        if (!oracle_expr(c, items)) return false;
      }
      return true;
    case GenExpr::Kind::kOr:
      for (const auto& c : e.children) {
        if (oracle_expr(c, items)) return true;
      }
      return false;
    case GenExpr::Kind::kNot:
      return !oracle_expr(e.children[0], items);
  }
  return false;
}

bool oracle(const GenQuery& q, const TestRecord& r) {
  static const std::vector<Item> kNothing;
  const auto it = r.map_.find(q.field);
  const std::vector<Item>& items = it == r.map_.end() ? kNothing : it->second;
  switch (q.kind) {
    case GenQuery::Kind::kField:
      return oracle_expr(q.expr, items);
    case GenQuery::Kind::kRange:
      for (const Item& i : items) {
        if (oracle_compares(q.bound, q.op, i)) return true;
      }
      return false;
    case GenQuery::Kind::kAnd:
      for (const auto& c : q.children) {
        if (!oracle(c, r)) return false;
      }
      return true;
    case GenQuery::Kind::kOr:
      for (const auto& c : q.children) {
        if (oracle(c, r)) return true;
      }
      return false;
    case GenQuery::Kind::kNot:
      return !oracle(q.children[0], r);
  }
  return false;
}

void oracle_fields(const GenQuery& q, std::vector<std::string>& out) {
  if (q.kind == GenQuery::Kind::kField || q.kind == GenQuery::Kind::kRange) {
    if (std::find(out.begin(), out.end(), q.field) == out.end()) out.push_back(q.field);
  }
  for (const auto& c : q.children) oracle_fields(c, out);
}

// --- The generator ---

const std::vector<std::string> kFields = {"a",   "b.c",        "model",   "x y",    "模型",
                                          "w:n", "or",         "and x",   "a*b",    "q\"d",
                                          "not", "@timestamp", "Nothing", "missing"};

struct Pools {
  std::vector<std::string> strings;  // never a number or a time (see random_string)
  std::vector<std::pair<std::string, double>> numbers;
  std::vector<std::pair<std::string, EpochMillis>> times;
  std::vector<double> record_numbers;
  std::vector<EpochMillis> record_times;
};

template <typename T>
const T& pick(std::mt19937& rng, const std::vector<T>& v) {
  return v[rng() % v.size()];
}

// A string that reads neither as a number (it does not start with a digit, '-' or '.') nor as a
// time (nor does it start with "now"), and is not a keyword literal: full of what needs escaping.
std::string random_string(std::mt19937& rng) {
  static const std::vector<std::string> kFirst = {
      "a", "x", "Z", "_",   "é",  "日",  "(",   ")",       ":",        "<", ">",    "\"",
      "*", "{", "}", "\\",  " ",  "\t",  "/",   "[",       "~",        "^", "&",    "|",
      "!", "+", "=", "and", "OR", "not", "Not", "nothing", "\xC2\xA0", "😀", "\x01", "@"};
  static const std::vector<std::string> kRest = {
      "a",    "b",     "Q",    "é",     "日本", "😀",  "0",        "7",    ".",   "-", " ", "  ",
      "\t",   "\n",    "\r",   "(",     ")",    ":",  "<",        ">",    "\"",  "*", "{", "}",
      "\\",   "/",     "[",    "]",     "~",    "~2", "^3",       "&&",   "||",  "!", "+", "=",
      " TO ", " and ", " or ", " not ", "NOT",  "x",  "\xC2\xA0", "\x01", "and", "or"};
  while (true) {
    std::string s = pick(rng, kFirst);
    const int n = static_cast<int>(rng() % 8);
    for (int i = 0; i < n; ++i) s += pick(rng, kRest);
    if (!s.starts_with("now")) return s;
  }
}

Pools make_pools(std::mt19937& rng) {
  Pools p;
  for (int i = 0; i < 40; ++i) p.strings.push_back(random_string(rng));
  // Numbers as written and their value; random_value makes those of digits only times too.
  p.numbers = {{"0", 0},       {"7", 7},      {"007", 7},     {"-5", -5}, {"2.5", 2.5},
               {"-0.5", -0.5}, {"1e3", 1000}, {"1000", 1000}, {"42", 42}, {"3.25", 3.25}};
  const EpochMillis t0 = utc(2026, 11, 20, 10);
  p.times = {{"2026-11-20T10:00:00Z", t0},
             {"2026-11-20T11:00:00+01:00", t0},
             {"2026-11-20T10:00:00.500Z", t0 + 500},
             {"2026-11-20", utc(2026, 11, 20)},
             {"1795168800000", t0},
             {"now", kNow},
             {"now-1d", kNow - kDay},
             {"now/d", utc(2026, 11, 20)},
             {"now-1d/d", utc(2026, 11, 19)},
             {"2026-11-20||+1M/d", utc(2026, 12, 20)},
             {"2026-10-31||+1M", utc(2026, 11, 30)},
             {"now-15m", kNow - 15 * 60'000}};
  p.record_numbers = {0, 7, -5, 2.5, -0.5, 1000, 42, 3.25, 1e6, std::nan("")};
  p.record_times = {t0,          t0 + 500,          utc(2026, 11, 20), kNow,
                    kNow - kDay, utc(2026, 12, 20), utc(2026, 11, 19), t0 + 1};
  return p;
}

// Indexes of the first byte of every UTF-8 character of `s`, and its end.
std::vector<size_t> char_starts(const std::string& s) {
  std::vector<size_t> out;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) out.push_back(i);
  }
  out.push_back(s.size());
  return out;
}

GenValue string_value(std::string s, bool quoted) {
  GenValue v;
  v.pieces = {std::move(s)};
  v.quoted = quoted || v.pieces[0].empty();
  return v;
}

// A wildcard pattern cut from `s`: one or two runs of it replaced by '*', so that it often
// matches `s` itself.
GenValue wildcard_value(std::mt19937& rng, const std::string& s) {
  const std::vector<size_t> at = char_starts(s);
  std::vector<size_t> cuts;
  const int wildcards = 1 + static_cast<int>(rng() % 2);
  for (int i = 0; i < 2 * wildcards; ++i) cuts.push_back(pick(rng, at));
  std::sort(cuts.begin(), cuts.end());
  GenValue v;
  v.pieces.clear();
  size_t from = 0;
  for (size_t i = 0; i < cuts.size(); i += 2) {
    v.pieces.push_back(s.substr(from, cuts[i] - from));
    from = cuts[i + 1];
  }
  v.pieces.push_back(s.substr(from));
  if (rng() % 4 == 0) v.pieces.back() += "x";  // sometimes a pattern that cannot match
  return v;
}

GenValue random_value(std::mt19937& rng, const Pools& p, bool range) {
  const bool quoted = rng() % 2 == 0;
  switch (rng() % (range ? 4 : 9)) {
    case 0:
    case 1:
      return string_value(pick(rng, p.strings), quoted);
    case 2: {
      const auto& [text, n] = pick(rng, p.numbers);
      GenValue v = string_value(text, quoted);
      v.number = n;
      if (std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        v.time = static_cast<EpochMillis>(n);
      }
      return v;
    }
    case 3: {
      const auto& [text, t] = pick(rng, p.times);
      GenValue v = string_value(text, quoted);
      v.time = t;
      if (text == "1795168800000") v.number = static_cast<double>(t);
      return v;
    }
    case 4:
      return string_value(pick(rng, std::vector<std::string>{"true", "false", "null", "TRUE"}),
                          quoted);
    case 5:
    case 6:
      return wildcard_value(rng, pick(rng, p.strings));
    case 7: {
      GenValue v;  // `*`: exists
      v.pieces = {"", ""};
      return v;
    }
    default:
      return string_value(random_string(rng), quoted);  // seldom in any record
  }
}

GenExpr random_expr(std::mt19937& rng, const Pools& p, int depth) {
  GenExpr e;
  const unsigned r = rng() % 6;
  if (depth >= 2 || r < 3) {
    e.value = random_value(rng, p, false);
    return e;
  }
  e.kind = r == 3 ? GenExpr::Kind::kAnd : r == 4 ? GenExpr::Kind::kOr : GenExpr::Kind::kNot;
  const int n = e.kind == GenExpr::Kind::kNot ? 1 : 2 + static_cast<int>(rng() % 2);
  for (int i = 0; i < n; ++i) e.children.push_back(random_expr(rng, p, depth + 1));
  return e;
}

GenQuery random_query(std::mt19937& rng, const Pools& p, int depth) {
  GenQuery q;
  const unsigned r = rng() % 8;
  if (depth >= 4 || r < 3) {
    q.field = pick(rng, kFields);
    if (r == 0) {
      q.kind = GenQuery::Kind::kRange;
      q.op = static_cast<int>(rng() % 4);
      q.bound = random_value(rng, p, true);
    } else {
      q.expr = random_expr(rng, p, 0);
    }
    return q;
  }
  q.kind = r < 5 ? GenQuery::Kind::kAnd : r < 7 ? GenQuery::Kind::kOr : GenQuery::Kind::kNot;
  const int n = q.kind == GenQuery::Kind::kNot ? 1 : 2 + static_cast<int>(rng() % 3);
  for (int i = 0; i < n; ++i) q.children.push_back(random_query(rng, p, depth + 1));
  return q;
}

TestRecord random_record(std::mt19937& rng, const Pools& p) {
  TestRecord r;
  for (const std::string& f : kFields) {
    if (f == "missing" || rng() % 10 < 3) continue;
    std::vector<Item>& items = r.map_[f];
    if (rng() % 20 == 0) continue;  // present, holding nothing
    const int n = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < n; ++i) {
      switch (rng() % 8) {
        case 0:
        case 1:
        case 2:
          items.push_back(str(pick(rng, p.strings)));
          break;
        case 3:
          items.push_back(str(pick(rng, std::vector<std::string>{"true", "null", "TRUE", "7", "2.5",
                                                                 "2026-11-20", ""})));
          break;
        case 4:
          items.push_back(num(pick(rng, p.record_numbers)));
          break;
        case 5:
          items.push_back(when(pick(rng, p.record_times)));
          break;
        case 6:
          items.push_back(flag(rng() % 2 == 0));
          break;
        default:
          items.push_back(null());
          break;
      }
    }
  }
  return r;
}

// A record for failure messages.
std::string describe(const TestRecord& r) {
  std::string out = "{";
  for (const auto& [path, items] : r.map_) {
    out += "\n  " + visible(path) + ": [";
    for (const Item& i : items) {
      switch (i.type) {
        case Value::Type::kNull:
          out += "null";
          break;
        case Value::Type::kBool:
          out += i.boolean ? "true" : "false";
          break;
        case Value::Type::kNumber:
          out += (i.date ? "date " : "") + std::to_string(i.number);
          break;
        case Value::Type::kString:
          out += "\"" + visible(i.text) + "\"";
          break;
        case Value::Type::kObject:
          out += "{...}";
          break;
      }
      out += ", ";
    }
    out += "]";
  }
  return out + "\n}";
}

// --- The printer: KQL text for a generated query, escaping every way the grammar allows ---

class Printer {
 public:
  explicit Printer(std::mt19937& rng) : rng_(rng) {}

  std::string query(const GenQuery& q, int min_precedence = 0) {
    std::string s;
    int precedence = 4;
    switch (q.kind) {
      case GenQuery::Kind::kField:
        s = field(q.field) + maybe_space() + ":" + maybe_space();
        if (q.expr.kind == GenExpr::Kind::kValue) {
          s += value(q.expr.value);
        } else {
          s += "(" + maybe_space() + expr(q.expr, 0) + maybe_space() + ")";
        }
        break;
      case GenQuery::Kind::kRange: {
        static const char* kOps[] = {"<", "<=", ">", ">="};
        s = field(q.field) + maybe_space() + kOps[q.op] + maybe_space() + value(q.bound);
        break;
      }
      case GenQuery::Kind::kAnd:
      case GenQuery::Kind::kOr: {
        const bool is_and = q.kind == GenQuery::Kind::kAnd;
        precedence = is_and ? 2 : 1;
        for (size_t i = 0; i < q.children.size(); ++i) {
          if (i > 0) s += space() + keyword(is_and ? "and" : "or") + space();
          s += query(q.children[i], precedence);
        }
        break;
      }
      case GenQuery::Kind::kNot:
        precedence = 3;
        s = keyword("not") + space() + query(q.children[0], 3);
        break;
    }
    return parenthesize(std::move(s), precedence < min_precedence);
  }

 private:
  std::string expr(const GenExpr& e, int min_precedence) {
    std::string s;
    int precedence = 4;
    switch (e.kind) {
      case GenExpr::Kind::kValue:
        s = value(e.value);
        break;
      case GenExpr::Kind::kAnd:
      case GenExpr::Kind::kOr: {
        const bool is_and = e.kind == GenExpr::Kind::kAnd;
        precedence = is_and ? 2 : 1;
        for (size_t i = 0; i < e.children.size(); ++i) {
          if (i > 0) s += space() + keyword(is_and ? "and" : "or") + space();
          s += expr(e.children[i], precedence);
        }
        break;
      }
      case GenExpr::Kind::kNot:
        precedence = 3;
        s = keyword("not") + space() + expr(e.children[0], 3);
        break;
    }
    return parenthesize(std::move(s), precedence < min_precedence);
  }

  std::string parenthesize(std::string s, bool needed) {
    if (!needed && rng_() % 6 != 0) return s;
    return "(" + maybe_space() + s + maybe_space() + ")";
  }

  std::string space() {
    static const std::vector<std::string> kSpaces = {" ",  " ",  " ",    "  ",
                                                     "\t", "\n", "\r\n", "\xC2\xA0"};
    return pick(rng_, kSpaces);
  }
  std::string maybe_space() { return rng_() % 3 == 0 ? space() : ""; }

  std::string keyword(std::string kw) {
    for (char& c : kw) {
      if (rng_() % 3 == 0) c = static_cast<char>(c - 'a' + 'A');
    }
    return kw;
  }

  std::string field(const std::string& f) {
    return rng_() % 4 == 0 ? quoted(f) : unquoted({f}, true);
  }

  std::string value(const GenValue& v) {
    if (v.exists()) return "*";
    return v.quoted ? quoted(v.pieces[0]) : unquoted(v.pieces, false);
  }

  // `\uXXXX` for one UTF-8 character (a surrogate pair above U+FFFF), in random hex case.
  std::string u_escape(std::string_view ch) {
    const auto b = [&](size_t i) {
      return static_cast<uint32_t>(static_cast<unsigned char>(ch[i]));
    };
    uint32_t cp = b(0);
    if (ch.size() == 2) cp = ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    if (ch.size() == 3) cp = ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    if (ch.size() == 4) {
      cp = ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
    }
    const char* format = rng_() % 2 ? "\\u%04x" : "\\u%04X";
    char buf[16];
    std::string out;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      std::snprintf(buf, sizeof buf, format, 0xD800 + (cp >> 10));
      out += buf;
      cp = 0xDC00 + (cp & 0x3FF);
    }
    std::snprintf(buf, sizeof buf, format, cp);
    return out + buf;
  }

  std::string quoted(std::string_view s) {
    std::string out = "\"";
    const std::vector<size_t> at = char_starts(std::string(s));
    for (size_t k = 0; k + 1 < at.size(); ++k) {
      const std::string_view ch = s.substr(at[k], at[k + 1] - at[k]);
      if (ch == "\\" || ch == "\"") {
        out += "\\" + std::string(ch);
      } else if (ch == "\t" && rng_() % 2) {
        out += "\\t";
      } else if (ch == "\n" && rng_() % 2) {
        out += "\\n";
      } else if (rng_() % 8 == 0) {
        out += u_escape(ch);
      } else {
        out += ch;
      }
    }
    return out + "\"";
  }

  static bool is_space(std::string_view ch) {
    return ch == " " || ch == "\t" || ch == "\n" || ch == "\r" || ch == "\xC2\xA0";
  }

  // An unquoted literal: `pieces` joined by wildcards, with everything escaped that the
  // grammar would otherwise read as something else.
  std::string unquoted(const std::vector<std::string>& pieces, bool is_field) {
    std::string out;
    bool word_start = true;  // after raw whitespace, or at the start
    for (size_t p = 0; p < pieces.size(); ++p) {
      if (p > 0) {
        out += '*';
        word_start = false;
      }
      const std::string& s = pieces[p];
      const std::vector<size_t> at = char_starts(s);
      for (size_t k = 0; k + 1 < at.size(); ++k) {
        const std::string_view ch = std::string_view(s).substr(at[k], at[k + 1] - at[k]);
        const bool first = p == 0 && k == 0;
        const bool last = p + 1 == pieces.size() && k + 2 == at.size();
        if (word_start) {
          // A keyword standing as a word: escaped as `\and`, `\OR`, `\Not`, or `\u006eot`.
          const std::string_view rest = std::string_view(s).substr(at[k]);
          bool escaped = false;
          for (const std::string_view kw : {"and", "or", "not"}) {
            if (rest.size() < kw.size()) continue;
            bool same = true;
            for (size_t i = 0; i < kw.size(); ++i) {
              same = same && (rest[i] | 0x20) == kw[i];
            }
            if (!same) continue;
            if (rest[0] == 'n' || rng_() % 3 == 0) {  // `\not` might read as `\n` + "ot"
              out += u_escape(rest.substr(0, 1)) + std::string(rest.substr(1, kw.size() - 1));
            } else {
              out += "\\" + std::string(rest.substr(0, kw.size()));
            }
            k += kw.size() - 1;
            escaped = true;
            break;
          }
          word_start = false;
          if (escaped) continue;
        }
        const char c = ch[0];
        if (ch.size() == 1 && std::string_view("\\():<>\"*{}").find(c) != std::string::npos) {
          out += "\\" + std::string(ch);  // special
        } else if (ch.size() == 1 && std::string_view("~^&|").find(c) != std::string::npos) {
          out += u_escape(ch);  // Lucene's fuzzy, boost, && and ||
        } else if (is_space(ch)) {
          // `\n` before "ot" and a word end would read as the escaped keyword `\not`.
          const std::string_view after = std::string_view(s).substr(at[k + 1]);
          const bool ot = after.size() >= 2 && (after[0] | 0x20) == 'o' && (after[1] | 0x20) == 't';
          if (first || last || rng_() % 5 == 0) {
            out += ch == "\t"          ? "\\t"
                   : ch == "\n" && !ot ? "\\n"
                   : ch == "\r"        ? "\\r"
                                       : u_escape(ch);
          } else {
            out += ch;  // between words: kept as written
            word_start = true;
          }
        } else if (first && (c == '/' || c == '[' || c == '=' ||
                             (is_field && (c == '+' || c == '-' || c == '!')))) {
          // A regex, a Lucene range, `<` `=` read as `<=`, a Lucene prefix.
          out += u_escape(ch);
        } else if (rng_() % 8 == 0) {
          out += u_escape(ch);
        } else {
          out += ch;
        }
      }
    }
    return out;
  }

  std::mt19937& rng_;
};

TEST(KqlPropertyTest, RandomQueriesAgreeWithAnIndependentEvaluator) {
  std::mt19937 rng(20261120);
  const Pools pools = make_pools(rng);
  std::vector<TestRecord> records;
  for (int i = 0; i < 300; ++i) records.push_back(random_record(rng, pools));
  Printer printer(rng);
  size_t matched = 0, total = 0;
  int failures = 0;
  for (int i = 0; i < 400 && failures < 5; ++i) {
    const GenQuery g = random_query(rng, pools, 0);
    const std::string text = printer.query(g);
    size_t pos = 0;
    auto q = Query::parse(text, &pos, kNow);
    if (!q) {
      ADD_FAILURE() << visible(text) << "\n" << q.status().message();
      ++failures;
      continue;
    }
    std::vector<std::string> fields;
    oracle_fields(g, fields);
    EXPECT_EQ(q->fields(), fields) << visible(text);
    for (size_t k = 0; k < records.size(); ++k) {
      const bool want = oracle(g, records[k]);
      ++total;
      matched += want;
      if (q->matches(records[k]) != want) {
        ADD_FAILURE() << visible(text) << "\nexpected " << (want ? "a match" : "no match")
                      << " of record " << describe(records[k]);
        ++failures;
        break;
      }
    }
  }
  // Neither answer dominates, or the comparison would say little.
  EXPECT_GT(matched, total / 10);
  EXPECT_LT(matched, total - total / 10);
}

// Random token soup and raw bytes: never a crash, and an error always names a position inside
// the text and starts its message with it.
TEST(KqlPropertyTest, RandomBytesNeverCrash) {
  static const std::vector<std::string> kTokens = {
      "a",  "f",   ":",     "(",   ")",          "\"",       "\\",   "*",    " ",        "and",
      "or", "NOT", "not",   "<",   ">=",         "[",        "]",    "{",    "}",        " TO ",
      "/",  "~",   "^",     "\\u", "d83d",       "\\ud83d",  "||",   "&&",   "!",        "-",
      "+",  "now", "1",     "-1d", "/d",         "\xC2\xA0", "\xC2", "\xFF", "_exists_", "=",
      "\t", "\n",  "\\and", "\\n", "2026-11-20", "||+1M",    "é"};
  std::mt19937 rng(42);
  const TestRecord r{{"a", {str("x"), num(1), when(kNow), flag(true), null()}},
                     {"f", {str("a b")}}};
  int ok = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string text;
    const int n = static_cast<int>(rng() % 24);
    for (int k = 0; k < n; ++k) {
      if (rng() % 5 == 0) {
        text += static_cast<char>(rng() % 256);
      } else {
        text += pick(rng, kTokens);
      }
    }
    size_t pos = 0;
    auto q = Query::parse(text, &pos, kNow);
    if (q) {
      ++ok;
      (void)q->matches(r);
    } else {
      ASSERT_LE(pos, text.size()) << visible(text);
      ASSERT_TRUE(q.status().message().starts_with("position " + std::to_string(pos) + ": "))
          << visible(text) << ": " << q.status().message();
    }
    (void)parse_time(text, kNow);
  }
  EXPECT_GT(ok, 50);  // the soup reaches the matcher too
}

// Printed queries cut short or with a byte changed: the edits a user makes while typing.
TEST(KqlPropertyTest, EditedQueriesFailCleanly) {
  std::mt19937 rng(7);
  const Pools pools = make_pools(rng);
  Printer printer(rng);
  const TestRecord r = random_record(rng, pools);
  for (int i = 0; i < 300; ++i) {
    std::string text = printer.query(random_query(rng, pools, 0));
    if (text.empty()) continue;
    switch (rng() % 3) {
      case 0:
        text.resize(rng() % text.size());
        break;
      case 1:
        text.erase(rng() % text.size(), 1);
        break;
      default:
        text.insert(rng() % text.size(), 1, "():\"\\*<>{} ~"[rng() % 12]);
        break;
    }
    size_t pos = 0;
    auto q = Query::parse(text, &pos, kNow);
    if (q) {
      (void)q->matches(r);
    } else {
      ASSERT_LE(pos, text.size()) << visible(text);
      ASSERT_TRUE(q.status().message().starts_with("position " + std::to_string(pos) + ": "));
    }
  }
}

}  // namespace
}  // namespace verity::query::kql
