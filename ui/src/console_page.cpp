#include "verity/ui/console_page.h"

#include "page_template.h"
#include "ui_assets.h"

namespace verity::ui {
namespace {

struct Page {
  std::string head, tail, csp;  // split at the redaction token's place
};

Page build_page() {
  Page p;
  p.csp = "default-src 'none'; script-src " + source_hash(assets::kChartJs) + " " +
          source_hash(assets::kChartJsMatrix) + " " + source_hash(assets::kChartsJs) + " " +
          source_hash(assets::kConsoleJs) + "; style-src " + source_hash(assets::kReportCss) + " " +
          source_hash(assets::kConsoleCss) +
          "; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'";
  FilledPage filled = fill_template(assets::kConsoleHtml,
                                    {{"@CSP@", p.csp},
                                     {"@REPORT_CSS@", assets::kReportCss},
                                     {"@CONSOLE_CSS@", assets::kConsoleCss},
                                     {"@SECTIONS@", assets::kSectionsHtml},
                                     {"@CHART_JS@", assets::kChartJs},
                                     {"@MATRIX_JS@", assets::kChartJsMatrix},
                                     {"@CHARTS_JS@", assets::kChartsJs},
                                     {"@CONSOLE_JS@", assets::kConsoleJs}},
                                    "@REDACT_TOKEN@");
  p.head = std::move(filled.head);
  p.tail = std::move(filled.tail);
  return p;
}

const Page& page() {
  static const Page p = build_page();
  return p;
}

// Text for a double-quoted attribute value.
std::string attribute_text(std::string_view s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

std::string console_html(std::string_view redact_token) {
  const Page& p = page();
  return p.head + attribute_text(redact_token) + p.tail;
}

const std::string& console_content_security_policy() { return page().csp; }

HttpResponse console_response(std::string_view redact_token) {
  HttpResponse r;
  r.status = 200;
  r.content_type = "text/html; charset=utf-8";
  r.body = console_html(redact_token);
  r.headers.emplace_back("Content-Security-Policy",
                         console_content_security_policy() + "; frame-ancestors 'none'");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

}  // namespace verity::ui
