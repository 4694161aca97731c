// What the shipper sends for an entry of the dead-letter store: the golden bulk lines (the names
// the Kibana dashboards use), the optional members, dated indices, entries it cannot read, and a
// property over entries the real store writes from generated rejects (every value comes back
// exactly, the bulk lines stay two lines).

#include "verity/shippers/dead_letter_encoder.h"

#include <prometheus/registry.h>
#include <simdjson.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <sstream>

#include "verity/document/json_writer.h"
#include "verity/store/store.h"

namespace verity::shippers {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// An entry as the store writes it (store/src/dead_letters.cpp), with a pretty-printed document.
const char* kEntry =
    R"({"sequence":7,"input":"tcp","ingest_time":"2026-11-20T10:30:01.000Z","type":"missing_field",)"
    R"("reason":"line 2: /request_id (request id) is required","line":2,"raw_length":131,)"
    R"("document":{"@timestamp": "2026-11-20T10:30:00Z",
  "model_name":"fraud","who":"hmac:0123456789abcdef01234567","note":"a\nb \"q\""}})";

TEST(DeadLetterEncoder, BulkCreateMatchesTheGoldenFile) {
  EsShipperOptions o;
  const std::string lines = bulk_create_dead_letter(o, 7, kEntry).value();
  EXPECT_EQ(lines, read_file(VERITY_SOURCE_DIR "/tests/shippers/golden/dead_letter_create.ndjson"));
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 2) << "one action line, one source line";
  o.index_mode = IndexMode::kDated;
  const std::string dated = R"({"create":{"_index":"verity-deadletters-2026.11.20","_id":"dl-7"}})"
                            "\n{\"@timestamp\":\"2026-11-20T10:30:01.000Z\"";
  EXPECT_EQ(bulk_create_dead_letter(o, 7, kEntry).value().substr(0, dated.size()), dated);
  o.dead_letters_dated_prefix = "audit-dl-";
  EXPECT_EQ(o.dead_letter_index_for(1795170601000), "audit-dl-2026.11.20");
  o.index_mode = IndexMode::kDataStream;
  o.dead_letters_data_stream = "logs-verity.deadletters-prod";
  EXPECT_EQ(o.dead_letter_index_for(0), "logs-verity.deadletters-prod");
}

TEST(DeadLetterEncoder, OptionalMembersAppearOnlyWhenTheEntryHasThem) {
  simdjson::dom::parser p;
  // An unparseable line: kept as its length and digest, no document.
  const std::string sha(64, 'a');
  const std::string invalid =
      R"({"sequence":9,"input":"beats","ingest_time":"2026-11-20T10:30:01.000Z","type":"invalid_json",)"
      R"j("reason":"line 4: invalid JSON (TAPE_ERROR)","line":4,"raw_length":17,"raw_sha256":")j" +
      sha + R"("})";
  simdjson::dom::element s = p.parse(dead_letter_source(9, invalid).value());
  EXPECT_EQ(std::string_view(s["verity"]["raw_sha256"]), sha);
  EXPECT_EQ(uint64_t(s["verity"]["raw_length"]), 17u);
  EXPECT_EQ(std::string_view(s["verity"]["input"]), "beats");
  EXPECT_TRUE(s["verity"]["request_id"].error());
  EXPECT_TRUE(s["event"]["original"].error());
  EXPECT_EQ(std::string_view(s["event"]["dataset"]), "verity.deadletters");
  EXPECT_EQ(std::string_view(s["error"]["type"]), "invalid_json");
  // A conflict names its request id.
  const std::string conflict =
      R"({"sequence":11,"input":"http","ingest_time":"2026-11-20T10:30:01.000Z","type":"duplicate_conflict",)"
      R"("reason":"line 1: a different document is already stored under this request id","line":1,)"
      R"("request_id":"r-1","raw_length":9,"raw_sha256":")" +
      sha + R"(","document":{"a":1}})";
  s = p.parse(dead_letter_source(11, conflict).value());
  EXPECT_EQ(std::string_view(s["verity"]["request_id"]), "r-1");
  EXPECT_EQ(std::string_view(s["event"]["original"]), R"({"a":1})");
  EXPECT_EQ(uint64_t(s["verity"]["sequence"]), 11u);
}

TEST(DeadLetterEncoder, EntriesItCannotReadAreErrorsNamingTheSequenceOnly) {
  for (const char* bad : {"", "{", "[1]", R"({"type":"x"})",
                          R"({"ingest_time":"yesterday","type":"x","reason":"secret-value"})",
                          R"({"ingest_time":"2026-11-20T10:30:01.000Z"})"}) {
    auto r = bulk_create_dead_letter(EsShipperOptions(), 5, bad);
    ASSERT_FALSE(r.is_ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("dead letter 5"), std::string::npos);
    EXPECT_EQ(r.status().message().find("secret-value"), std::string::npos);
  }
}

// Text of every kind a reason, an input or a document can hold: quotes, backslashes, control
// characters, line breaks, non-ASCII, long runs.
std::string generated_text(std::mt19937_64& rng) {
  static const std::vector<std::string> pieces = {"a",
                                                  "Z",
                                                  " ",
                                                  "\"",
                                                  "\\",
                                                  "\n",
                                                  "\r",
                                                  "\t",
                                                  "\x01",
                                                  "\x1f",
                                                  "/",
                                                  "caf\xc3\xa9",
                                                  "\xe2\x80\xa8",
                                                  "\xf0\x9f\x98\x80",
                                                  "{",
                                                  "}",
                                                  "[",
                                                  "\":",
                                                  "hmac:0123456789abcdef01234567"};
  std::string s;
  const size_t n = rng() % 3 == 0 ? 200 + rng() % 2000 : rng() % 20;
  for (size_t i = 0; i < n; ++i) s += pieces[rng() % pieces.size()];
  return s;
}

// A JSON object, sometimes pretty-printed (line breaks between members).
std::string generated_document(std::mt19937_64& rng) {
  std::string doc;
  {
    document::JsonWriter w(doc);
    w.begin_object();
    const size_t members = rng() % 6;
    for (size_t i = 0; i < members; ++i) {
      w.key("k" + std::to_string(i) + generated_text(rng));
      switch (rng() % 4) {
        case 0:
          w.string(generated_text(rng));
          break;
        case 1:
          w.number(static_cast<double>(rng() % 100000) / 7.0);
          break;
        case 2:
          w.begin_array().string(generated_text(rng)).null().boolean(true).end_array();
          break;
        default:
          w.begin_object().member("n", generated_text(rng)).end_object();
      }
    }
    w.end_object();
  }
  if (rng() % 2 == 0) {
    std::string pretty;
    for (char c : doc) {
      pretty += c;
      if (c == ',') pretty += "\n  ";  // also inside strings: still valid JSON there
    }
    // Only outside strings is a line break whitespace; inside one it would be invalid JSON.
    simdjson::dom::parser p;
    simdjson::dom::element e;
    if (p.parse(pretty).get(e) == simdjson::SUCCESS) doc = pretty;
  }
  return doc;
}

TEST(DeadLetterEncoder, EveryStoredEntryComesBackExactlyInTwoLines) {
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() / ("verity_dl_encoder_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  ManualClock clock(1795170601000);
  prometheus::Registry registry;
  store::StoreOptions so;
  so.data_dir = dir.string();
  so.retention.check_interval = Duration(0);
  auto st = store::Store::open(so, clock, registry).value();

  std::mt19937_64 rng(17);
  std::vector<Reject> rejects;
  for (int i = 0; i < 300; ++i) {
    Reject rj;
    rj.type = i % 5 == 0 ? "invalid_json" : "missing_field";
    rj.reason = generated_text(rng);
    rj.line = rng();
    rj.raw_length = rng() % 1000000;
    if (i % 3 == 0) rj.raw_sha256_hex = std::string(64, "0123456789abcdef"[i % 16]);
    if (i % 5 != 0) rj.document = generated_document(rng);
    rejects.push_back(rj);
  }
  store::IngestBatch b;
  b.input = "tcp";
  b.rejects = rejects;
  std::promise<store::CommitResult> done;
  st->submit(std::move(b), [&](const store::CommitResult& r) { done.set_value(r); });
  ASSERT_EQ(done.get_future().get().rejects_written, rejects.size());

  auto read = st->read_dead_letters(1, 1000, 64u << 20).value();
  ASSERT_EQ(read.entries.size(), rejects.size());
  simdjson::dom::parser p, q;
  for (size_t i = 0; i < rejects.size(); ++i) {
    const Reject& rj = rejects[i];
    const store::DeadLetterEntry& e = read.entries[i];
    EXPECT_EQ(e.ingest_time_ms, 1795170601000);
    const std::string lines =
        bulk_create_dead_letter(EsShipperOptions(), e.sequence, e.json).value();
    ASSERT_EQ(std::count(lines.begin(), lines.end(), '\n'), 2) << i;
    const size_t nl = lines.find('\n');
    simdjson::dom::element action = p.parse(lines.substr(0, nl));
    EXPECT_EQ(std::string_view(action["create"]["_id"]), dead_letter_id(e.sequence));
    simdjson::dom::element s = q.parse(lines.substr(nl + 1));
    EXPECT_EQ(std::string_view(s["@timestamp"]), "2026-11-20T10:30:01.000Z");
    EXPECT_EQ(uint64_t(s["verity"]["sequence"]), e.sequence);
    EXPECT_EQ(std::string_view(s["verity"]["input"]), "tcp");
    EXPECT_EQ(uint64_t(s["verity"]["line"]), rj.line);
    EXPECT_EQ(uint64_t(s["verity"]["raw_length"]), rj.raw_length);
    EXPECT_EQ(s["verity"]["raw_sha256"].error() == simdjson::SUCCESS, !rj.raw_sha256_hex.empty());
    EXPECT_EQ(std::string_view(s["error"]["type"]), rj.type);
    EXPECT_EQ(std::string_view(s["error"]["message"]), rj.reason) << i;
    std::string_view original;
    if (rj.document.empty()) {
      EXPECT_TRUE(s["event"]["original"].error()) << i;
    } else {
      ASSERT_EQ(s["event"]["original"].get_string().get(original), simdjson::SUCCESS) << i;
      // The document, minified: the same JSON value as the one stored.
      simdjson::dom::parser a, b2;
      EXPECT_EQ(std::string(original), simdjson::minify(a.parse(rj.document))) << i;
      EXPECT_EQ(original.find('\n'), std::string_view::npos);
    }
  }
  st.reset();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace verity::shippers
