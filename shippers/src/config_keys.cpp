#include "verity/shippers/config_keys.h"

namespace verity::shippers {
namespace {

bool typed_stream(const std::string& name) {
  return name.rfind("logs-", 0) == 0 || name.rfind("metrics-", 0) == 0;
}

}  // namespace

void declare_keys(config::Section& s, EsShipperOptions& o) {
  config::Key hosts;
  hosts.name = "hosts";
  hosts.type = config::Type::kStrings;
  hosts.range = "http:// or https:// URLs";
  hosts.doc =
      "e.g. [http://127.0.0.1:9200], tried in order; none: the shipper is off (or: serve "
      "--es-url URL)";
  hosts.get = [&o]() -> std::optional<config::Value> { return o.hosts; };
  hosts.set = [&o](const config::Value& v) -> std::string {
    const auto* list = std::get_if<std::vector<std::string>>(&v);
    if (list == nullptr) return "expected a string or a list of strings";
    std::vector<std::string> out;
    for (auto h : *list) {
      while (!h.empty() && h.back() == '/') h.pop_back();
      if (h.rfind("http://", 0) != 0 && h.rfind("https://", 0) != 0) {
        return "'" + h + "': expected a URL such as http://127.0.0.1:9200";
      }
      out.push_back(std::move(h));
    }
    o.hosts = std::move(out);
    return "";
  };
  s.custom(std::move(hosts));
  s.choice<IndexMode>("index_mode", o.index_mode,
                      {{"data_stream", IndexMode::kDataStream}, {"dated", IndexMode::kDated}},
                      "data_stream: one data stream (create, with @timestamp) | dated: "
                      "<dated_prefix>YYYY.MM.DD of prediction time");
  s.text("data_stream", o.data_stream, "<type>-<dataset>-<namespace>");
  s.text("dated_prefix", o.dated_prefix, "index_mode dated: the indices' prefix");
  s.count("batch_events", o.batch_events, 1, 100'000, "most items in one _bulk request");
  s.count("workers", o.workers, 1, 16,
          "_bulk requests in flight at once, each on its own connection (labels and erasures still "
          "follow every prediction before them)");
  s.size("batch_bytes", o.batch_bytes, ByteSize{0}, ByteSize{UINT64_MAX},
         "most uncompressed bytes in one _bulk request");
  s.duration("flush_interval", o.flush_interval, Duration(0),
             "a partial batch waits at most this long");
  s.flag("gzip", o.gzip, "Content-Encoding: gzip");
  s.text("username", o.username, "basic auth, or");
  s.secret("password", o.password, "");
  s.secret("api_key", o.api_key, "Authorization: ApiKey <base64 id:key>");
  auto& tls = s.child("tls");
  tls.text("ca_file", o.ca_file, "PEM CAs for https hosts (\"\": the system's)");
  tls.flag("verify_certificate", o.verify_certificate, "");
  tls.flag("verify_hostname", o.verify_hostname, "");
  s.duration("timeout", o.timeout, Duration(0), "per request");
  s.duration("initial_backoff", o.initial_backoff, Duration(0),
             "retries back off exponentially, with jitter, up to max_backoff");
  s.duration("max_backoff", o.max_backoff, Duration(0), "");
  s.count("max_backlog_events", o.max_backlog_events, 1, UINT64_MAX,
          "above this many unshipped events /readyz answers 503 (nothing is dropped)");
  auto& dl = s.child("dead_letters",
                     "rejected and dead-lettered events (masked, as stored), forwarded too");
  dl.flag("enabled", o.dead_letters,
          "forwarded from a checkpoint of their own, in the same _bulk requests after the "
          "predictions; false: they stay in the store only");
  dl.text("data_stream", o.dead_letters_data_stream, "index_mode: data_stream");
  dl.text("dated_prefix", o.dead_letters_dated_prefix,
          "index_mode: dated: <dated_prefix>YYYY.MM.DD of ingest time");
  dl.check([&o](config::Problems& p) {
    if (!typed_stream(o.dead_letters_data_stream)) {
      p.add("data_stream",
            "expected <type>-<dataset>-<namespace>, e.g. logs-verity.deadletters-default");
    }
    if (o.dead_letters_dated_prefix.empty()) p.add("dated_prefix", "must not be empty");
    // Labels and erasures are applied by query over <dated_prefix>* or the data stream: dead
    // letters must be out of their reach.
    if (o.dead_letters_data_stream == o.data_stream) {
      p.add("data_stream", "must differ from outputs.elasticsearch.data_stream");
    }
    if (o.dead_letters_dated_prefix.rfind(o.dated_prefix, 0) == 0) {
      p.add("dated_prefix", "must not start with outputs.elasticsearch.dated_prefix");
    }
  });
  s.check([&o](config::Problems& p) {
    if (!typed_stream(o.data_stream)) {
      p.add("data_stream",
            "expected <type>-<dataset>-<namespace>, e.g. logs-verity.predictions-default");
    }
    if (!o.api_key.empty() && !o.username.empty()) {
      p.add("api_key", "use either api_key or username/password, not both");
    }
  });
}

}  // namespace verity::shippers
