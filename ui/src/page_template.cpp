#include "page_template.h"

#include <cstdint>

#include "verity/core/sha256.h"

namespace verity::ui {
namespace {

std::string base64(const Sha256Digest& d) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < d.size(); i += 3) {
    const uint32_t n = (uint32_t{d[i]} << 16) | (i + 1 < d.size() ? uint32_t{d[i + 1]} << 8 : 0) |
                       (i + 2 < d.size() ? uint32_t{d[i + 2]} : 0);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < d.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < d.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

}  // namespace

std::string source_hash(std::string_view text) { return "'sha256-" + base64(sha256(text)) + "'"; }

FilledPage fill_template(std::string_view html,
                         const std::map<std::string_view, std::string_view>& fills,
                         std::string_view split_at) {
  FilledPage p;
  std::string* out = &p.head;
  size_t i = 0;
  while (i < html.size()) {
    const size_t at = html.find('@', i);
    if (at == std::string_view::npos) break;
    const size_t end = html.find('@', at + 1);
    if (end == std::string_view::npos) break;
    const std::string_view name = html.substr(at, end - at + 1);
    out->append(html.substr(i, at - i));
    if (!split_at.empty() && name == split_at) {
      out = &p.tail;
    } else if (auto it = fills.find(name); it != fills.end()) {
      out->append(it->second);
    } else {
      out->append(html.substr(at, end - at));  // not a placeholder: the second @ may open one
      i = end;
      continue;
    }
    i = end + 1;
  }
  out->append(html.substr(i));
  return p;
}

}  // namespace verity::ui
