#pragma once

#include <map>
#include <string>
#include <string_view>

namespace verity::ui {

// "'sha256-<base64>'": a Content-Security-Policy source allowing exactly this script or style.
std::string source_hash(std::string_view text);

// A page template with every @NAME@ placeholder found in `fills` replaced by its text, split at
// the one named `split_at` (not replaced; "" for none): {text before, text after}. Anything else
// between two @ is kept as is.
struct FilledPage {
  std::string head, tail;
};
FilledPage fill_template(std::string_view html,
                         const std::map<std::string_view, std::string_view>& fills,
                         std::string_view split_at);

}  // namespace verity::ui
