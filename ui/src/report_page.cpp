#include "verity/ui/report_page.h"

#include "page_template.h"
#include "ui_assets.h"

namespace verity::ui {
namespace {

// The page around the data: the template with every placeholder but @DATA@ filled, split there.
struct Page {
  std::string head, tail, csp;
};

Page build_page() {
  Page p;
  p.csp = "default-src 'none'; script-src " + source_hash(assets::kChartJs) + " " +
          source_hash(assets::kChartJsMatrix) + " " + source_hash(assets::kChartsJs) + " " +
          source_hash(assets::kReportJs) + "; style-src " + source_hash(assets::kReportCss) +
          "; img-src data:; base-uri 'none'; form-action 'none'";
  FilledPage filled = fill_template(assets::kReportHtml,
                                    {{"@CSP@", p.csp},
                                     {"@STYLE@", assets::kReportCss},
                                     {"@SECTIONS@", assets::kSectionsHtml},
                                     {"@CHART_JS@", assets::kChartJs},
                                     {"@MATRIX_JS@", assets::kChartJsMatrix},
                                     {"@CHARTS_JS@", assets::kChartsJs},
                                     {"@REPORT_JS@", assets::kReportJs}},
                                    "@DATA@");
  p.head = std::move(filled.head);
  p.tail = std::move(filled.tail);
  return p;
}

const Page& page() {
  static const Page p = build_page();
  return p;
}

}  // namespace

std::string embed_json(std::string_view json) {
  std::string out;
  out.reserve(json.size() + json.size() / 16);
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else if (c == '\xe2' && i + 2 < json.size() && json[i + 1] == '\x80' &&
               (json[i + 2] == '\xa8' || json[i + 2] == '\xa9')) {
      out += json[i + 2] == '\xa8' ? "\\u2028" : "\\u2029";  // line separators, for old parsers
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::string report_html(std::string_view curves_json) {
  const Page& p = page();
  std::string out;
  out.reserve(p.head.size() + p.tail.size() + curves_json.size() + curves_json.size() / 16);
  out += p.head;
  out += embed_json(curves_json);
  out += p.tail;
  return out;
}

const std::string& report_content_security_policy() { return page().csp; }

HttpResponse report_response(std::string_view curves_json) {
  HttpResponse r;
  r.status = 200;
  r.content_type = "text/html; charset=utf-8";
  r.body = report_html(curves_json);
  r.headers.emplace_back("Content-Security-Policy",
                         report_content_security_policy() + "; frame-ancestors 'none'");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

const char* chart_js_version() { return assets::kChartJsVersion; }
const char* chart_js_matrix_version() { return assets::kChartJsMatrixVersion; }

}  // namespace verity::ui
