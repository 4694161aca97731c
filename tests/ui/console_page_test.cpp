// The audit console's page (ui/console_page): it references no remote origin, its
// Content-Security-Policy names exactly the scripts and styles it holds and allows the API
// ('self') and nothing else, no inline event handler or javascript: URL is in it, and the
// redaction token is written into it as inert attribute text.

#include "verity/ui/console_page.h"

#include <gtest/gtest.h>

#include <regex>

#include "verity/core/sha256.h"
#include "verity/ui/report_page.h"

namespace verity::ui {
namespace {

// The text between each opening tag named `tag` and its closing tag, with the opening tag.
std::vector<std::pair<std::string, std::string>> elements(const std::string& html,
                                                          const std::string& tag) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t at = 0;
  while ((at = html.find("<" + tag, at)) != std::string::npos) {
    const size_t open_end = html.find('>', at);
    const size_t close = html.find("</" + tag, open_end);
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

// The part of the page that is markup: scripts and styles left out.
std::string markup(std::string html) {
  for (const std::string tag : {"script", "style"}) {
    size_t at = 0;
    while ((at = html.find("<" + tag, at)) != std::string::npos) {
      const size_t close = html.find("</" + tag + ">", at);
      html.erase(at, close + tag.size() + 3 - at);
    }
  }
  return html;
}

TEST(ConsolePage, HoldsNoRemoteReferenceAndAPolicyOfItsOwnHashes) {
  const std::string html = console_html("[REDACTED]");
  for (const char* remote : {"http://", "https://", "//cdn", "sourceMappingURL", " src=", "@import",
                             "url(", "<iframe", "<base", "<object", "<embed"}) {
    EXPECT_EQ(html.find(remote), std::string::npos) << remote;
  }
  // The one link: an empty icon, so that the browser asks for no /favicon.ico.
  EXPECT_EQ(html.find("<link"), html.find("<link rel=\"icon\" href=\"data:,\">"));
  EXPECT_EQ(html.find("<link", html.find("<link") + 1), std::string::npos);
  const std::string& csp = console_content_security_policy();
  EXPECT_NE(html.find("content=\"" + csp + "\""), std::string::npos);
  EXPECT_EQ(csp.rfind("default-src 'none'; ", 0), 0u);
  EXPECT_EQ(csp.find("unsafe"), std::string::npos);
  EXPECT_EQ(csp.find('*'), std::string::npos);
  EXPECT_NE(csp.find("connect-src 'self';"), std::string::npos);
  EXPECT_NE(csp.find("img-src 'self' data:;"), std::string::npos);
  // Every script and style element is inline, plain, and allowed by its hash: nothing else is.
  const auto scripts = elements(html, "script");
  ASSERT_EQ(scripts.size(), 4u) << "Chart.js, its matrix plugin, the drawing code, the console";
  for (const auto& [open, text] : scripts) {
    EXPECT_EQ(open, "<script>");
    EXPECT_NE(csp.find("'sha256-" + base64_of(sha256(text)) + "'"), std::string::npos);
  }
  const auto styles = elements(html, "style");
  ASSERT_EQ(styles.size(), 2u);
  for (const auto& [open, text] : styles) {
    EXPECT_EQ(open, "<style>");
    EXPECT_NE(csp.find("'sha256-" + base64_of(sha256(text)) + "'"), std::string::npos);
  }
  const std::regex hashes("'sha256-[A-Za-z0-9+/=]{44}'");
  EXPECT_EQ(
      std::distance(std::sregex_iterator(csp.begin(), csp.end(), hashes), std::sregex_iterator()),
      6);
  // No inline event handler, style attribute or javascript: URL in the markup.
  const std::string m = markup(html);
  EXPECT_FALSE(std::regex_search(m, std::regex("\\son[a-z]+\\s*=", std::regex::icase)));
  EXPECT_FALSE(std::regex_search(m, std::regex("\\sstyle\\s*=", std::regex::icase)));
  EXPECT_EQ(m.find("javascript:"), std::string::npos);
  // The console script builds nothing from HTML text.
  EXPECT_EQ(scripts[3].second.find("innerHTML"), std::string::npos);
  EXPECT_EQ(scripts[3].second.find("insertAdjacentHTML"), std::string::npos);
  EXPECT_EQ(scripts[3].second.find("document.write"), std::string::npos);
  EXPECT_EQ(scripts[3].second.find("eval("), std::string::npos);
  // The model page draws with the report's own code: the same text in both pages.
  EXPECT_NE(report_html("{}").find(scripts[2].second), std::string::npos);
}

TEST(ConsolePage, TheRedactionTokenIsAttributeText) {
  const std::string html = console_html("\"><script>alert(1)</script>&'");
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_NE(html.find("content=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;&#39;\""),
            std::string::npos);
  EXPECT_EQ(elements(html, "script").size(), 4u);
}

TEST(ConsolePage, TheHttpAnswerCarriesThePolicyAndNosniff) {
  const HttpResponse r = console_response("[REDACTED]");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  std::map<std::string, std::string> headers(r.headers.begin(), r.headers.end());
  EXPECT_EQ(headers["Content-Security-Policy"],
            console_content_security_policy() + "; frame-ancestors 'none'");
  EXPECT_EQ(headers["X-Content-Type-Options"], "nosniff");
  EXPECT_EQ(headers["Referrer-Policy"], "no-referrer");
}

}  // namespace
}  // namespace verity::ui
