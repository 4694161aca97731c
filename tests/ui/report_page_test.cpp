// The self-contained HTML report page (ui/report_page): the data block cannot be broken out of,
// it reads back as the JSON given, the page references no remote origin, and its
// Content-Security-Policy names exactly the scripts and style it holds.

#include "verity/ui/report_page.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <random>

#include "verity/core/sha256.h"

namespace verity::ui {
namespace {

// The text of every <script ...>...</script> element, in order, with its opening tag.
std::vector<std::pair<std::string, std::string>> scripts(const std::string& html) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t at = 0;
  while ((at = html.find("<script", at)) != std::string::npos) {
    const size_t open_end = html.find('>', at);
    const size_t close = html.find("</script", open_end);
    if (open_end == std::string::npos || close == std::string::npos) break;
    out.emplace_back(html.substr(at, open_end + 1 - at),
                     html.substr(open_end + 1, close - open_end - 1));
    at = close + 1;
  }
  return out;
}

std::string base64_of(const Sha256Digest& d) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < d.size(); i += 3) {
    uint32_t n = uint32_t{d[i]} << 16;
    if (i + 1 < d.size()) n |= uint32_t{d[i + 1]} << 8;
    if (i + 2 < d.size()) n |= d[i + 2];
    out += a[(n >> 18) & 63];
    out += a[(n >> 12) & 63];
    out += i + 1 < d.size() ? a[(n >> 6) & 63] : '=';
    out += i + 2 < d.size() ? a[n & 63] : '=';
  }
  return out;
}

std::string minified(const std::string& json) {
  simdjson::dom::parser parser;
  return std::string(simdjson::minify(parser.parse(json).value()));
}

TEST(ReportPage, AModelNameCannotBreakOutOfTheDataBlock) {
  const std::string hostile = "</script><script>alert(1)</script>";
  const std::string json = "{\"model\":\"" + hostile +
                           "\",\"version\":\"<!-- & </SCRIPT > \\u2028\",\"report\":{},"
                           "\"not_available\":[]}";
  const std::string html = report_html(json);
  EXPECT_EQ(html.find("alert(1)</script>"), std::string::npos);
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_EQ(html.find("<!-- &"), std::string::npos);
  const auto s = scripts(html);
  ASSERT_EQ(s.size(), 5u)
      << "the data block, Chart.js, its matrix plugin, the shared drawing code and the page script";
  EXPECT_EQ(s[0].first, "<script type=\"application/json\" id=\"verity-data\">");
  EXPECT_EQ(s[0].second.find('<'), std::string::npos);
  EXPECT_EQ(s[0].second.find('>'), std::string::npos);
  // The block reads back as the same JSON, hostile strings included.
  EXPECT_EQ(minified(s[0].second), minified(json));
  simdjson::dom::parser parser;
  EXPECT_EQ(std::string_view(parser.parse(s[0].second)["model"]), hostile);
}

TEST(ReportPage, EmbeddedJsonReadsBackAsGivenForAnyStrings) {
  std::mt19937_64 rng(18);
  const std::string alphabet = "<>&/\\\"'!-sScript \xe2\x80\xa8\xe2\x80\xa9\xc3\xa9";
  for (int i = 0; i < 500; ++i) {
    std::string value;
    const size_t n = rng() % 40;
    for (size_t k = 0; k < n; ++k) {
      const size_t at = rng() % alphabet.size();
      const char c = alphabet[at];
      if (c == '"' || c == '\\') {
        value += '\\';
        value += c;
      } else if (static_cast<unsigned char>(c) >= 0x80) {
        value += "\xc3\xa9";  // a whole multi-byte character
      } else {
        value += c;
      }
    }
    const std::string json = "{\"model\":\"" + value + "\"}";
    const std::string embedded = embed_json(json);
    EXPECT_EQ(embedded.find_first_of("<>&"), std::string::npos) << json;
    EXPECT_EQ(minified(embedded), minified(json)) << json;
  }
  EXPECT_EQ(embed_json("\"\xe2\x80\xa8\""), "\"\\u2028\"");
}

TEST(ReportPage, NoRemoteOriginAndAPolicyNamingItsOwnScripts) {
  const std::string html = report_html("{\"model\":\"m\",\"report\":{},\"not_available\":[]}");
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("sourceMappingURL"), std::string::npos);
  EXPECT_EQ(html.find(" src="), std::string::npos);
  EXPECT_EQ(html.find(" href="), std::string::npos);
  const std::string& csp = report_content_security_policy();
  EXPECT_NE(html.find("content=\"" + csp + "\""), std::string::npos);
  EXPECT_EQ(csp.find("unsafe"), std::string::npos);
  EXPECT_EQ(csp.rfind("default-src 'none'", 0), 0u);
  const auto s = scripts(html);
  ASSERT_EQ(s.size(), 5u);
  for (size_t i = 1; i < s.size(); ++i) {
    EXPECT_EQ(s[i].first, "<script>");
    EXPECT_NE(csp.find("'sha256-" + base64_of(sha256(s[i].second)) + "'"), std::string::npos)
        << "script " << i;
  }
  const size_t style = html.find("<style>");
  const size_t style_end = html.find("</style>");
  ASSERT_NE(style, std::string::npos);
  EXPECT_NE(csp.find("style-src 'sha256-" +
                     base64_of(sha256(html.substr(style + 7, style_end - style - 7))) + "'"),
            std::string::npos);
  EXPECT_NE(html.find("Chart"), std::string::npos);
  EXPECT_EQ(std::string(chart_js_version()).substr(0, 2), "4.");
}

TEST(ReportPage, TheHttpAnswerCarriesThePolicy) {
  const HttpResponse r = report_response("{}");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  bool policy = false, nosniff = false;
  for (const auto& [k, v] : r.headers) {
    policy |= k == "Content-Security-Policy" && v.starts_with(report_content_security_policy());
    nosniff |= k == "X-Content-Type-Options" && v == "nosniff";
  }
  EXPECT_TRUE(policy);
  EXPECT_TRUE(nosniff);
}

}  // namespace
}  // namespace verity::ui
