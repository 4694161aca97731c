#pragma once

#include <string>
#include <string_view>

#include "verity/core/http.h"

namespace verity::ui {

// The audit console (GET /ui/): one page holding its style, its scripts, Chart.js and the
// chartjs-chart-matrix plugin (embedded in the binary) that calls Verity's HTTP API from the
// browser with the user's credentials. The page itself holds no data, so it is served without
// authentication; every answer it shows comes from the API, where roles and the read audit apply.
//
// Its Content-Security-Policy (header and meta element) allows no remote origin: default-src
// 'none', the page's own scripts and styles by SHA-256, connect-src 'self' (the API),
// img-src 'self' data:, no frames, no form posts, no <base>.
//
// `redact_token` (masking.redact_token) is written into the page (HTML-escaped) so that the
// console marks redacted values as masking tokens. Thread-safe.
std::string console_html(std::string_view redact_token);

// The policy of the page (also sent as a header, with frame-ancestors 'none').
const std::string& console_content_security_policy();

// GET /ui/ (and /ui/index.html): 200 text/html with the policy, nosniff, no-referrer and no-store.
HttpResponse console_response(std::string_view redact_token);

}  // namespace verity::ui
