#pragma once

#include <cstddef>
#include <string>

namespace verity::app {

// What `verity search`, `verity export` and `verity audit --reads` send to the server.
struct SearchCommand {
  std::string server = "http://127.0.0.1:9280";
  std::string token;
  std::string cacert;  // a CA file (PEM) to trust for an https server
  std::string model, version, from, to, where, fields, order, format, cursor, actor;
  size_t limit = 0;  // 0: the server's default (search) or largest page (export sets it)
  bool explain = false;
};

// One page of hits to stdout (NDJSON lines, or the server's JSON/CSV), the counts and the cursor
// of the next page to stderr. Exit codes: 0, 1 (404), 3 (server error or unreachable).
int run_search(const SearchCommand& c);
// Every hit, page after page (a progress line on stderr), as NDJSON or CSV with one header.
int run_export(const SearchCommand& c);
// The read audit trail, one JSON entry a line.
int run_read_audit(const SearchCommand& c);

}  // namespace verity::app
