// `verity search`, `verity export` and `verity audit --reads`: clients of GET /v1/predictions and
// GET /v1/audit?kind=read.
#include "verity/app/search_cli.h"

#include <simdjson.h>

#include <charconv>
#include <iostream>

#include "verity/app/http_client.h"

namespace verity::app {
namespace {

std::string query_string(const SearchCommand& c, std::string_view format, size_t limit,
                         const std::string& cursor) {
  std::string q;
  auto add = [&q](std::string_view k, std::string_view v) {
    if (v.empty()) return;
    q += q.empty() ? "?" : "&";
    q += k;
    q += '=';
    q += url_encode_segment(v);
  };
  add("model", c.model);
  add("version", c.version);
  add("from", c.from);
  add("to", c.to);
  add("where", c.where);
  add("fields", c.fields);
  add("order", c.order);
  add("format", format);
  add("limit", limit == 0 ? "" : std::to_string(limit));
  add("cursor", cursor);
  if (c.explain) add("explain", "true");
  return q;
}

Result<HttpClientResponse> get(const SearchCommand& c, const std::string& path_and_query) {
  std::string base = c.server;
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::vector<std::string> headers;
  if (!c.token.empty()) headers.push_back("Authorization: Bearer " + c.token);
  HttpTls tls;
  tls.ca_file = c.cacert;
  // A page reads up to the scan budget: allow it time.
  return http_request("GET", base + path_and_query, "", headers, 300'000,
                      c.cacert.empty() ? nullptr : &tls);
}

// Prints the server's error (its reason, and where in the query it is).
int fail(const char* command, const HttpClientResponse& r, const SearchCommand& c) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view reason;
  if (!parser.parse(r.body).get(root) && !root["error"]["reason"].get_string().get(reason)) {
    std::cerr << "verity " << command << ": " << reason << "\n";
    const std::string_view pos = r.header("x-verity-error-position");
    size_t at = 0;
    if (!pos.empty() &&
        std::from_chars(pos.data(), pos.data() + pos.size(), at).ec == std::errc()) {
      std::cerr << "  " << c.where << "\n  " << std::string(std::min(at, c.where.size()), ' ')
                << "^\n";
    }
  } else {
    std::cerr << "verity " << command << ": HTTP " << r.status << ": " << r.body << "\n";
  }
  return r.status == 404 ? 1 : 3;
}

// Splits an NDJSON page into its hits (written to `out`) and its closing _meta line.
std::string_view split_meta(std::string_view body, std::ostream& out) {
  std::string_view meta;
  while (!body.empty()) {
    const size_t nl = body.find('\n');
    const std::string_view line = body.substr(0, nl);
    body.remove_prefix(nl == std::string_view::npos ? body.size() : nl + 1);
    if (line.substr(0, 9) == "{\"_meta\":") {
      meta = line;
    } else if (!line.empty()) {
      out << line << '\n';
    }
  }
  return meta;
}

}  // namespace

int run_search(const SearchCommand& c) {
  const std::string format = c.format.empty() ? "ndjson" : c.format;
  auto r = get(c, "/v1/predictions" + query_string(c, format, c.limit, c.cursor));
  if (!r) {
    std::cerr << "verity search: " << r.status().message() << "\n";
    return 3;
  }
  if (r->status != 200) return fail("search", *r, c);
  if (format != "ndjson") {
    std::cout << r->body;
  } else {
    const std::string_view meta = split_meta(r->body, std::cout);
    std::cout.flush();
    std::cerr << "verity search: " << r->header("x-verity-matched") << " hits, "
              << r->header("x-verity-scanned") << " records read";
    if (!meta.empty() && meta.find("\"truncated\":true") != std::string_view::npos) {
      std::cerr << " (a page bound ended the page: the scan budget, 3 MiB of answer or 5 s)";
    }
    if (c.model.empty() && c.from.empty()) std::cerr << " in the last day (no --model, no --from)";
    std::cerr << "\n";
    if (c.explain && !meta.empty()) std::cerr << meta << "\n";
  }
  const std::string_view next = r->header("x-verity-next-cursor");
  if (!next.empty()) std::cerr << "more: --cursor " << next << "\n";
  return 0;
}

int run_export(const SearchCommand& c) {
  const std::string format = c.format.empty() ? "ndjson" : c.format;
  if (format != "ndjson" && format != "csv") {
    std::cerr << "verity export: --format is ndjson or csv\n";
    return 2;
  }
  std::string cursor = c.cursor;
  uint64_t exported = 0, scanned = 0, pages = 0;
  while (true) {
    auto r = get(c, "/v1/predictions" + query_string(c, format, 0, cursor) + "&limit=max");
    if (!r) {
      std::cerr << "verity export: " << r.status().message() << " (after " << exported
                << " records; resume with --cursor " << cursor << ")\n";
      return 3;
    }
    if (r->status != 200) return fail("export", *r, c);
    std::string_view body = r->body;
    if (format == "csv" && pages > 0) {
      const size_t eol = body.find("\r\n");  // the header, written once
      body.remove_prefix(eol == std::string_view::npos ? body.size() : eol + 2);
    }
    if (format == "csv") {
      std::cout << body;
    } else {
      split_meta(body, std::cout);
    }
    uint64_t n = 0, s = 0;
    const std::string_view matched = r->header("x-verity-matched");
    const std::string_view read = r->header("x-verity-scanned");
    std::from_chars(matched.data(), matched.data() + matched.size(), n);
    std::from_chars(read.data(), read.data() + read.size(), s);
    exported += n;
    scanned += s;
    ++pages;
    std::cout.flush();
    std::cerr << "\rverity export: " << exported << " records (" << scanned << " read, " << pages
              << " pages)" << std::flush;
    cursor = std::string(r->header("x-verity-next-cursor"));
    if (cursor.empty()) break;
  }
  std::cout.flush();
  std::cerr << "\n";
  return std::cout ? 0 : 3;
}

int run_read_audit(const SearchCommand& c) {
  uint64_t after = 0;
  while (true) {
    std::string q = "/v1/audit?kind=read&limit=1000&after=" + std::to_string(after);
    if (!c.from.empty()) q += "&from=" + url_encode_segment(c.from);
    if (!c.to.empty()) q += "&to=" + url_encode_segment(c.to);
    if (!c.actor.empty()) q += "&actor=" + url_encode_segment(c.actor);
    auto r = get(c, q);
    if (!r) {
      std::cerr << "verity audit: " << r.status().message() << "\n";
      return 3;
    }
    if (r->status != 200) return fail("audit", *r, c);
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    simdjson::dom::array entries;
    if (parser.parse(r->body).get(root) || root["entries"].get_array().get(entries)) {
      std::cerr << "verity audit: unexpected answer from the server\n";
      return 3;
    }
    for (auto e : entries) std::cout << simdjson::minify(e) << "\n";
    std::cout.flush();
    if (root["next_after"].get_uint64().get(after)) break;  // null: the last page
  }
  return 0;
}

}  // namespace verity::app
