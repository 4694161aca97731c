#include "verity/ingest/config_keys.h"

namespace verity::ingest {
namespace {

constexpr ByteSize kKiB{1ull << 10};
constexpr ByteSize kMiB{1ull << 20};
constexpr ByteSize kAny{UINT64_MAX};

}  // namespace

void declare_keys(config::Section& s, TcpInputOptions& o) {
  s.host_port("listen", o.listen, "");
  s.size("max_line", o.max_line, kKiB, ByteSize{64 * kMiB.bytes},
         "longer lines are rejected (line_too_long); the connection continues");
  s.duration("idle_timeout", o.idle_timeout, Duration(1), "silent connections are closed");
  s.count("max_connections", o.max_connections, 1, 1'000'000,
          "further connections are closed at once (verity_ingest_connections_refused_total)");
  s.size("read_chunk", o.read_chunk, ByteSize{512}, ByteSize{16 * kMiB.bytes},
         "bytes per socket read (and per batch handed to the store)");
  s.size("max_in_flight", o.max_in_flight, ByteSize{0}, kAny,
         "per connection: uncommitted bytes before it stops reading");
}

void declare_keys(config::Section& s, BeatsInputOptions& o) {
  s.host_port("listen", o.listen, "");
  s.size("max_event", o.limits.max_event, kKiB, ByteSize{64 * kMiB.bytes},
         "larger events are rejected (line_too_long); the window still completes");
  s.size("max_frame", o.limits.max_frame, kKiB, ByteSize{1024 * kMiB.bytes},
         "a larger compressed frame closes the connection (counted)");
  s.size("max_inflated", o.limits.max_inflated, kKiB, ByteSize{4096 * kMiB.bytes},
         "most bytes one compressed frame may inflate to (zlib bombs); at least max_event");
  s.count("max_window", o.limits.max_window, 1, 1u << 24,
          "a larger window size closes the connection (counted)");
  s.duration("read_timeout", o.read_timeout, Duration(1),
             "a client silent this long, with nothing pending, is closed");
  s.duration("keepalive", o.keepalive, Duration(1000),
             "ACK(0) this often while a window waits for its commit");
  s.count("max_connections", o.max_connections, 1, 1'000'000,
          "further connections are closed at once and counted");
  s.size("read_chunk", o.read_chunk, ByteSize{512}, ByteSize{16 * kMiB.bytes},
         "bytes per socket read");
  s.size("max_in_flight", o.max_in_flight, ByteSize{0}, kAny,
         "per connection: uncommitted bytes before it stops reading");
  s.check([&o](config::Problems& p) {
    if (o.limits.max_inflated < o.limits.max_event) {
      p.add("max_inflated", "must be from max_event to 4GiB");
    }
  });
}

void declare_keys(config::Section& s, ServerTlsOptions& o) {
  s.flag("enabled", o.enabled, "TLS 1.2+ with cert_file and key_file");
  s.text("cert_file", o.cert_file, "PEM certificate chain");
  s.text("key_file", o.key_file, "PEM private key");
  s.text("ca_file", o.ca_file, "PEM CAs for client certificates");
  s.flag("verify_client", o.verify_client, "require a client certificate signed by ca_file");
  s.check([&o](config::Problems& p) {
    if (o.enabled && o.cert_file.empty()) p.add("cert_file", "is required when TLS is enabled");
    if (o.enabled && o.key_file.empty()) p.add("key_file", "is required when TLS is enabled");
    if (o.verify_client && o.ca_file.empty()) {
      p.add("ca_file", "is required to verify client certificates");
    }
    if (o.verify_client && !o.enabled) p.add("verify_client", "needs tls.enabled: true");
  });
}

void declare_keys(config::Section& s, HttpServerOptions& o) {
  s.host_port("listen", o.listen, "");
  s.size("max_body", o.max_body, ByteSize{0}, kAny,
         "larger request bodies (after gzip) are answered 413");
  s.duration("idle_timeout", o.idle_timeout, Duration(1),
             "keep-alive connections silent this long are closed");
  s.duration("write_timeout", o.write_timeout, Duration(1),
             "a client that does not read its answer this long is disconnected");
  s.count("max_connections", o.max_connections, 1, 1'000'000,
          "further connections are closed at once and counted");
}

void declare_keys(config::Section& s, HttpIngestOptions& o) {
  s.size("max_line", o.max_line, kKiB, ByteSize{64 * kMiB.bytes},
         "longest NDJSON line or bulk source accepted");
  s.duration(
      "retry_after", o.retry_after, Duration(1),
      "Retry-After of the 429 answered while the store is backlogged or server.max_memory is "
      "spent");
  s.count("max_errors", o.max_errors, 0, 100'000,
          "per-line errors an answer lists; the rest are counted by type");
}

namespace {

// An action and its parameters. A detector's actions are fewer (no truncate or bucket, so neither
// of their parameters). `compact`: a parameter the action
// does not use, left at its default, is not rendered (not for a model's detector override, whose
// parameters start from the top-level setting rather than the defaults).
void declare_params(config::Section& s, MaskParams& p, bool detector, bool compact) {
  config::Key action;
  action.name = "action";
  action.type = config::Type::kChoice;
  action.range = detector ? "drop | redact | hash | partial"
                          : "drop | redact | hash | partial | truncate | bucket";
  action.doc = "what is done to a matched value";
  action.get = [&p]() -> std::optional<config::Value> {
    return std::string(mask_action_name(p.action));
  };
  action.set = [&p](const config::Value& v) -> std::string {
    const std::string* text = config::scalar_of(v);
    if (text == nullptr) return "expected an action name";
    auto a = parse_mask_action(*text);
    if (!a) return a.status().message();
    p.action = *a;
    return "";
  };
  s.custom(std::move(action));
  // Each parameter is shown with the action that uses it, or when set away from its default.
  const MaskParams defaults;
  s.count("keep_last", p.keep_last, 0, 1024, "partial: characters kept at the end");
  if (compact) {
    s.shown_when([&p, defaults] {
      return p.action == MaskAction::kPartial || p.keep_last != defaults.keep_last;
    });
  }
  if (detector) return;  // truncate and bucket are rules' actions only
  s.count("max_length", p.max_length, 1, 1 << 20, "truncate: characters kept");
  if (compact) {
    s.shown_when([&p, defaults] {
      return p.action == MaskAction::kTruncate || p.max_length != defaults.max_length;
    });
  }
  s.number("bucket_width", p.bucket_width,
           "bucket: numbers become the lower bound of their bucket");
  if (compact) {
    s.shown_when([&p, defaults] {
      return p.action == MaskAction::kBucket || p.bucket_width != defaults.bucket_width;
    });
  }
  s.check([&p](config::Problems& problems) {
    if (!(p.bucket_width > 0)) problems.add("bucket_width", "must be a number > 0");
  });
}

}  // namespace

void declare_keys(config::Section& s, MaskParams& p) { declare_params(s, p, false, true); }

void declare_keys(config::Section& s, MaskRule& r) {
  s.flow();
  config::Key path;
  path.name = "path";
  path.type = config::Type::kString;
  path.doc = "a JSON pointer whose segments may hold * and ? globs; ** matches any segments";
  path.get = [&r]() -> std::optional<config::Value> { return r.path; };
  path.set = [&r](const config::Value& v) -> std::string {
    const std::string* text = config::scalar_of(v);
    if (text == nullptr) return "expected a string";
    r.path = *text;
    if (r.path.empty()) return "";
    if (auto st = validate_rule_path(r.path); !st) return st.message();
    return "";
  };
  s.custom(std::move(path));
  declare_keys(s, r.params);
  s.check([&r](config::Problems& p) {
    if (r.path.empty()) p.add("path", "is required");
  });
}

void declare_keys(config::Section& s, DetectorSetting& d, bool compact) {
  s.flow();
  s.flag("enabled", d.enabled, "");
  declare_params(s, d.params, true, compact);
  s.check([&d](config::Problems& p) {
    if (d.params.action == MaskAction::kBucket || d.params.action == MaskAction::kTruncate) {
      p.add("action", "a detector's action is drop, redact, hash or partial");
    }
  });
}

void declare_keys(config::Section& s, CustomDetector& c) {
  s.flow();
  s.text("name", c.name, "names the detector in counters");
  s.text("pattern", c.pattern, "a vectorscan (Hyperscan) regular expression");
  declare_keys(s, c.setting);
  s.check([&c](config::Problems& p) {
    if (c.name.empty()) p.add("name", "is required");
    if (c.pattern.empty()) p.add("pattern", "is required");
    for (size_t d = 0; d < kBuiltinDetectorCount; ++d) {
      if (c.name == detector_name(static_cast<DetectorKind>(d))) {
        p.add("name", "'" + c.name + "' is a built-in detector");
      }
    }
  });
}

void declare_keys(config::Section& s, MaskingPolicy& p) {
  s.text("redact_token", p.redact_token, "what redact writes in place of a value");
  s.list<MaskRule>(
      "rules", p.rules, [](config::Section& item, MaskRule& r) { declare_keys(item, r); },
      "checked in order; the first match wins and covers the value and everything under it");
  s.example(
      "- {path: \"/inputs/*_email\", action: hash}\n- {path: \"**/ssn\", action: redact}\n"
      "- {path: /inputs/age, action: bucket, bucket_width: 10}");
  auto& detectors = s.child("detectors", "all on, all hash: safe without any configuration");
  for (size_t d = 0; d < kBuiltinDetectorCount; ++d) {
    const auto kind = static_cast<DetectorKind>(d);
    const char* doc =
        kind == DetectorKind::kCard     ? "Luhn-checked; look-alikes are counted, not masked"
        : kind == DetectorKind::kIban   ? "mod-97 checked"
        : kind == DetectorKind::kApiKey ? "AWS, Stripe, GitHub, Slack, Google key shapes"
                                        : "";
    declare_keys(detectors.child(std::string(detector_name(kind)), doc), p.detectors[d]);
  }
  s.list<CustomDetector>(
      "custom_detectors", p.custom,
      [](config::Section& item, CustomDetector& c) { declare_keys(item, c); },
      "extra patterns, scanned like the built-in detectors");
  s.example("- {name: employee_id, pattern: \"EMP-[0-9]{6}\", action: redact}");
}

}  // namespace verity::ingest
