#pragma once

#include <string>
#include <string_view>

#include "verity/core/http.h"

namespace verity::ui {

// The self-contained HTML model report: one page holding its style, its script, Chart.js and the
// chartjs-chart-matrix plugin (embedded in the binary), and `curves_json` (a
// GET /v1/models/{model}/curves answer, valid JSON) in a <script type="application/json"> block
// that the page draws. Nothing is loaded from any origin: a Content-Security-Policy meta element
// allows only the page's own scripts and style (by hash) and data: images.
//
// The JSON is embedded with <, > and & (and U+2028, U+2029) written as \u escapes, which JSON
// parsers read back as the same characters: no value (a model name such as
// "</script><script>alert(1)</script>") can end the block or open a tag. Thread-safe.
std::string report_html(std::string_view curves_json);

// `curves_json` embedded as report_html does it (the text between the block's tags).
std::string embed_json(std::string_view json);

// The policy of the page (also sent as a header): default-src 'none', the page's scripts and
// style by their sha256, img-src data:.
const std::string& report_content_security_policy();

// The report as an HTTP answer: 200 text/html with the policy, nosniff and no-store headers.
HttpResponse report_response(std::string_view curves_json);

// The embedded library versions ("4.6.1"), for --version style output and the README.
const char* chart_js_version();
const char* chart_js_matrix_version();

}  // namespace verity::ui
