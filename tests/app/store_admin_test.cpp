// The store's administration API over a fake store (store::StoreAdmin, no RocksDB): an erasure
// finds its subject however the sender spelled it in JSON. Subjects are generated (quotes,
// backslashes, slashes, control characters, 2-4 byte UTF-8) and each document spells them its own
// way (raw, \uXXXX with surrogate pairs, \/, short escapes), among decoys that differ by one
// character or hold the subject in another field. The fake applies the store's contract: matches()
// is asked only about documents whose bytes hold one of the request's needles
// (store/src/erase.cpp). The real binary erasing escaped subjects is
// tests/integration/audit_store_test.cpp.

#include <gtest/gtest.h>

#include <cstdio>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "seed.h"
#include "verity/app/auth.h"
#include "verity/app/store_admin.h"
#include "verity/store/admin.h"

namespace verity::app {
namespace {

class FakeAdmin final : public store::StoreAdmin {
 public:
  std::vector<std::string> documents;
  std::set<size_t> erased;

  Result<store::EraseReport> erase(const store::EraseRequest& request) override {
    store::EraseReport report;
    for (size_t i = 0; i < documents.size(); ++i) {
      bool candidate = false;
      for (const auto& n : request.needles) candidate = candidate || documents[i].find(n) != npos;
      if (candidate && request.matches(documents[i])) {
        erased.insert(i);
        ++report.predictions;
      }
    }
    return report;
  }
  Result<std::vector<store::PartitionInfo>> partitions() const override {
    return std::vector<store::PartitionInfo>();
  }
  Result<store::VerifyReport> verify(const std::string&) const override {
    return store::VerifyReport();
  }
  Status set_hold(const store::Hold&, bool, std::string_view) override { return Status::ok(); }
  Result<std::vector<store::Hold>> holds() const override { return std::vector<store::Hold>(); }
  Result<std::vector<std::string>> read_trail(EpochMillis, EpochMillis, std::string_view, uint64_t,
                                              size_t) const override {
    return std::vector<std::string>();
  }
  Result<std::vector<std::string>> audit_trail(uint64_t, size_t) const override {
    return std::vector<std::string>();
  }

 private:
  static constexpr size_t npos = std::string::npos;
};

// Code points of a generated subject: ASCII letters and digits, the characters JSON must or may
// escape, and 2, 3 and 4 byte UTF-8.
std::vector<char32_t> any_subject(std::mt19937_64& rng) {
  static const std::vector<char32_t> pool = {'a',  'Z',  '7',    '-',    '@',     '.',    ' ',
                                             '"',  '\\', '/',    '\n',   '\t',    0x01,   0x1f,
                                             0x7f, 0xe9, 0x20ac, 0x540d, 0x1d11e, 0x1f600};
  std::vector<char32_t> s(1 + rng() % 12);
  for (auto& c : s) c = pool[rng() % pool.size()];
  return s;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xc0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3f));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xe0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (c & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (c & 0x3f));
  }
}

void append_u_escape(std::string& out, char32_t c) {
  char buf[16];
  if (c < 0x10000) {
    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
  } else {
    const char32_t v = c - 0x10000;
    std::snprintf(buf, sizeof buf, "\\u%04X\\u%04X", static_cast<unsigned>(0xd800 + (v >> 10)),
                  static_cast<unsigned>(0xdc00 + (v & 0x3ff)));
  }
  out += buf;
}

// The subject as a JSON string literal, each character spelled one of the ways JSON allows.
std::string any_spelling(const std::vector<char32_t>& s, std::mt19937_64& rng) {
  std::string out = "\"";
  for (char32_t c : s) {
    const int way = static_cast<int>(rng() % 3);
    if (way == 0 || (c < 0x20) || c == '"' || c == '\\') {
      if (way != 0 && c == '"') {
        out += "\\\"";
      } else if (way != 0 && c == '\\') {
        out += "\\\\";
      } else if (way == 1 && c == '\n') {
        out += "\\n";
      } else if (way == 1 && c == '\t') {
        out += "\\t";
      } else {
        append_u_escape(out, c);
      }
    } else if (way == 1 && c == '/') {
      out += "\\/";
    } else {
      append_utf8(out, c);
    }
  }
  return out + "\"";
}

TEST(StoreAdminApi, AnErasureFindsItsSubjectHoweverJsonSpelledIt) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  std::mt19937_64 rng(seed);
  const Authenticator auth{std::vector<Credential>{}};
  for (int round = 0; round < 300; ++round) {
    FakeAdmin store;
    StoreAdminApi api(store, nullptr, document::parse_json_pointer("/user_id").value(), auth);
    const std::vector<char32_t> subject = any_subject(rng);
    std::vector<char32_t> other = subject;
    other[rng() % other.size()] = 'q';  // a decoy one character away (or the same: then it counts)
    std::set<size_t> expected;
    for (int i = 0; i < 12; ++i) {
      const int kind = static_cast<int>(rng() % 3);
      const std::vector<char32_t>& holds = kind == 1 ? other : subject;
      std::string doc = R"({"request_id":"r)" + std::to_string(i) + R"(",)";
      if (kind == 2) {
        doc += R"("user_id":"someone else","note":)" + any_spelling(subject, rng) + "}";
      } else {
        doc += R"("note":1,"user_id":)" + any_spelling(holds, rng) + "}";
        if (holds == subject) expected.insert(store.documents.size());
      }
      store.documents.push_back(doc);
    }
    HttpRequest req;
    req.method = "POST";
    req.path = "/v1/erase";
    std::string body = R"({"subject":)" + any_spelling(subject, rng) + "}";
    req.body = body;
    const HttpResponse r = api.erase(req);
    ASSERT_EQ(r.status, 200) << r.body;
    std::string erased_docs, expected_docs;
    for (size_t i : store.erased) erased_docs += store.documents[i] + "\n";
    for (size_t i : expected) expected_docs += store.documents[i] + "\n";
    ASSERT_EQ(store.erased, expected) << "subject " << body << "\nerased:\n"
                                      << erased_docs << "expected:\n"
                                      << expected_docs;
  }
}

}  // namespace
}  // namespace verity::app
