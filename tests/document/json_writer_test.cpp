#include "verity/document/json_writer.h"

#include <simdjson.h>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "seed.h"

namespace verity::document {
namespace {

// Parses `json` and returns its root, failing the test when it is not valid JSON.
simdjson::dom::element parse(simdjson::dom::parser& p, const std::string& json) {
  simdjson::dom::element root;
  EXPECT_EQ(p.parse(json).get(root), simdjson::SUCCESS) << json;
  return root;
}

TEST(JsonWriter, WritesNestedValues) {
  std::string out;
  JsonWriter w(out);
  w.begin_object()
      .member("a", "x\"y\\z\n")
      .member("n", 1.5)
      .member("i", int64_t{-3})
      .member("u", uint64_t{18446744073709551615ull})
      .member("t", true)
      .key("z")
      .null()
      .key("arr")
      .begin_array()
      .integer(1)
      .string("two")
      .end_array()
      .member_raw("doc", R"({"k":[1,2]})")
      .end_object();
  EXPECT_TRUE(w.complete());
  EXPECT_EQ(out, R"({"a":"x\"y\\z\n","n":1.5,"i":-3,"u":18446744073709551615,"t":true,"z":null,)"
                 R"("arr":[1,"two"],"doc":{"k":[1,2]}})");
}

TEST(JsonWriter, NonFiniteNumbersAreNull) {
  std::string out;
  JsonWriter w(out);
  w.begin_array()
      .number(std::numeric_limits<double>::infinity())
      .number(std::nan(""))
      .number(4e-320)
      .end_array();
  EXPECT_EQ(out, "[null,null,4e-320]");
}

TEST(JsonWriter, InvalidUtf8IsReplacedInKeysAndStrings) {
  std::string out;
  JsonWriter w(out);
  w.begin_object().member(std::string_view("k\xff", 2), std::string_view("\xc3\x28 ok", 5));
  w.end_object();
  simdjson::dom::parser p;
  auto root = parse(p, out);
  std::string_view v;
  ASSERT_EQ(root["k\xEF\xBF\xBD"].get_string().get(v), simdjson::SUCCESS) << out;
  EXPECT_EQ(v, "\xEF\xBF\xBD( ok");
}

TEST(JsonWriter, ErrorResponseHasElasticsearchsShape) {
  const HttpResponse r = error_response(400, "bad\x01type", "line 3: /a\xff");
  EXPECT_EQ(r.status, 400);
  simdjson::dom::parser p;
  auto root = parse(p, r.body);
  std::string_view type;
  ASSERT_EQ(root["error"]["type"].get_string().get(type), simdjson::SUCCESS);
  EXPECT_EQ(type, "bad\x01type");
}

TEST(Utf8, PrefixNeverCutsACharacter) {
  const std::string s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";  // a é € 😀
  for (size_t n = 0; n <= s.size() + 1; ++n) {
    EXPECT_TRUE(is_valid_utf8(utf8_prefix(s, n))) << n;
    EXPECT_LE(utf8_prefix(s, n).size(), n);
  }
  EXPECT_EQ(utf8_prefix(s, 2), "a");
  EXPECT_EQ(utf8_prefix(s, 3), "a\xC3\xA9");
}

TEST(Utf8, RejectsOverlongSurrogatesAndOutOfRange) {
  for (std::string_view bad : {"\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                               "\xF8\x88\x80\x80\x80", "\x80", "\xE2\x82"}) {
    EXPECT_FALSE(is_valid_utf8(bad));
    EXPECT_TRUE(is_valid_utf8(valid_utf8(bad)));
  }
}

// Property: whatever bytes go in as keys and strings, the output is valid JSON, and valid UTF-8
// input reads back exactly.
TEST(JsonWriter, AnyBytesGiveValidJsonThatReadsBack) {
  std::mt19937_64 rng(42);
  simdjson::dom::parser p;
  for (int round = 0; round < 3000; ++round) {
    std::string key, value;
    const size_t n = rng() % 40;
    for (size_t i = 0; i < n; ++i) {
      // Mostly ASCII and control characters, some multi-byte text, some random bytes.
      switch (rng() % 4) {
        case 0:
          key += static_cast<char>(rng() % 0x80);
          break;
        case 1:
          value += static_cast<char>(rng() % 0x20);
          break;
        case 2:
          value += "\xE2\x82\xAC\"\\";
          break;
        default:
          (rng() % 2 ? key : value) += static_cast<char>(rng() % 256);
      }
    }
    std::string out;
    JsonWriter w(out);
    w.begin_object().member(key, value).end_object();
    simdjson::dom::element root;
    ASSERT_EQ(p.parse(out).get(root), simdjson::SUCCESS) << out;
    simdjson::dom::object obj;
    ASSERT_EQ(root.get_object().get(obj), simdjson::SUCCESS);
    for (auto [k, v] : obj) {
      if (is_valid_utf8(key)) {
        EXPECT_EQ(k, key);
      }
      std::string_view got;
      ASSERT_EQ(v.get_string().get(got), simdjson::SUCCESS);
      if (is_valid_utf8(value)) {
        EXPECT_EQ(got, value);
      }
      EXPECT_TRUE(is_valid_utf8(got));
    }
  }
}

// Property: the writer's output is, byte for byte, what RapidJSON's own Writer writes for the same
// calls (keys and strings appended whole when nothing in them needs escaping, raw values and
// numbers appended after the writer's bookkeeping), whatever the nesting and the text.
TEST(JsonWriter, WritesWhatRapidJsonWrites) {
  const uint64_t seed = verity::testing::test_seed();
  SCOPED_TRACE(verity::testing::seed_trace(seed));
  std::mt19937_64 rng(seed);
  auto text = [&] {
    std::string t;
    const size_t n = rng() % 24;
    for (size_t i = 0; i < n; ++i) {
      switch (rng() % 6) {
        case 0:
          t += static_cast<char>(rng() % 0x20);  // control characters: escaped
          break;
        case 1:
          t += rng() % 2 ? '"' : '\\';
          break;
        case 2:
          t += "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";  // multi-byte characters
          break;
        case 3:
          t += "\x7F/";
          break;
        default:
          t += static_cast<char>(0x20 + rng() % 0x5F);  // printable ASCII
      }
    }
    return t;
  };
  for (int round = 0; round < 2000; ++round) {
    std::string ours;
    JsonWriter w(ours);
    rapidjson::StringBuffer theirs_buf;
    rapidjson::Writer<rapidjson::StringBuffer> theirs(theirs_buf);
    // A random document: objects and arrays to depth 5, each value one of the writer's kinds.
    std::vector<bool> in_object;
    auto value = [&](int kind) {
      switch (kind) {
        case 0: {
          const std::string v = text();
          w.string(v);
          theirs.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
          break;
        }
        case 1: {
          const double d = std::ldexp(static_cast<double>(rng() % 100000) - 50000.0,
                                      static_cast<int>(rng() % 80) - 40);
          w.number(d);
          std::string t;
          append_json_number(t, d);
          theirs.RawValue(t.data(), t.size(), rapidjson::kNumberType);
          break;
        }
        case 2: {
          const std::string raw = R"({"k":[1,"x",null]})";
          w.raw(raw);
          theirs.RawValue(raw.data(), raw.size(), rapidjson::kObjectType);
          break;
        }
        case 3: {
          const auto i = -static_cast<int64_t>(rng() % 1000);
          w.integer(i);
          theirs.Int64(i);
          break;
        }
        default:
          w.boolean(true);
          theirs.Bool(true);
      }
    };
    auto close = [&] {
      if (in_object.back()) {
        w.end_object();
        theirs.EndObject();
      } else {
        w.end_array();
        theirs.EndArray();
      }
      in_object.pop_back();
    };
    w.begin_object();
    theirs.StartObject();
    in_object.push_back(true);
    for (int step = 0; step < 40 && !in_object.empty(); ++step) {
      if (in_object.back()) {
        const std::string k = text();
        w.key(k);
        theirs.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
      }
      const auto r = rng() % 10;
      if (r < 2 && in_object.size() < 5) {
        if (r == 0) {
          w.begin_object();
          theirs.StartObject();
          in_object.push_back(true);
        } else {
          w.begin_array();
          theirs.StartArray();
          in_object.push_back(false);
        }
        continue;
      }
      value(static_cast<int>(rng() % 5));
      if (rng() % 4 == 0) close();
    }
    while (!in_object.empty()) close();
    ASSERT_EQ(ours, std::string(theirs_buf.GetString(), theirs_buf.GetSize()));
    ASSERT_TRUE(w.complete());
  }
}

}  // namespace
}  // namespace verity::document
