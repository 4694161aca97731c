#include "verity/app/config_reader.h"

#include <charconv>
#include <cstdlib>

namespace verity::app {

ConfigReader::ConfigReader(YAML::Node node, std::string path, std::vector<std::string>& errors)
    : node_(std::move(node)), path_(std::move(path)), errors_(errors) {
  if (node_.IsDefined() && !node_.IsNull() && !node_.IsMap()) {
    errors_.push_back((path_.empty() ? std::string("(top level)") : path_) +
                      ": expected a mapping of keys to values");
    node_ = YAML::Node();
  }
}

std::string ConfigReader::path_of(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

void ConfigReader::error(std::string_view key, std::string_view message) {
  errors_.push_back(path_of(key) + ": " + std::string(message));
}

bool ConfigReader::has(std::string_view key) const {
  return node_.IsDefined() && node_.IsMap() && node_[std::string(key)].IsDefined();
}

std::optional<YAML::Node> ConfigReader::lookup(std::string_view key) {
  read_.insert(std::string(key));
  if (!node_.IsDefined() || !node_.IsMap()) return std::nullopt;
  YAML::Node v = node_[std::string(key)];
  if (!v.IsDefined() || v.IsNull()) return std::nullopt;
  return v;
}

namespace {

bool scalar(const YAML::Node& v, std::string& out) {
  if (!v.IsScalar()) return false;
  out = v.Scalar();
  return true;
}

}  // namespace

void ConfigReader::get(std::string_view key, std::string& out) {
  auto v = lookup(key);
  if (!v) return;
  if (!scalar(*v, out)) error(key, "expected a string");
}

void ConfigReader::get(std::string_view key, bool& out) {
  auto v = lookup(key);
  if (!v) return;
  std::string s;
  if (scalar(*v, s) && (s == "true" || s == "false")) {
    out = s == "true";
  } else {
    error(key, "expected true or false");
  }
}

void ConfigReader::get(std::string_view key, size_t& out, size_t min, size_t max) {
  auto v = lookup(key);
  if (!v) return;
  std::string s;
  size_t n = 0;
  if (!scalar(*v, s)) {
    error(key, "expected a whole number");
    return;
  }
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) {
    error(key, "expected a whole number");
  } else if (n < min || n > max) {
    error(key, "must be from " + std::to_string(min) + " to " + std::to_string(max));
  } else {
    out = n;
  }
}

void ConfigReader::get(std::string_view key, double& out) {
  auto v = lookup(key);
  if (!v) return;
  std::string s;
  char* end = nullptr;
  const double d = scalar(*v, s) ? std::strtod(s.c_str(), &end) : 0;
  if (end == nullptr || end == s.c_str() || *end != '\0') return error(key, "expected a number");
  out = d;
}

void ConfigReader::get(std::string_view key, Duration& out) {
  auto v = lookup(key);
  if (!v) return;
  std::string s;
  if (!scalar(*v, s)) return error(key, "expected a duration such as 500ms, 5s, 2m, 1h or 7d");
  auto d = parse_duration(s);
  if (!d) return error(key, d.status().message());
  out = *d;
}

void ConfigReader::get(std::string_view key, ByteSize& out) {
  auto v = lookup(key);
  if (!v) return;
  std::string s;
  if (!scalar(*v, s)) return error(key, "expected a size such as 64KiB or 1MiB");
  auto b = parse_byte_size(s);
  if (!b) return error(key, b.status().message());
  out = *b;
}

void ConfigReader::get(std::string_view key, HostPort& out) {
  auto v = lookup(key);
  if (!v) return;
  std::string s;
  if (!scalar(*v, s)) return error(key, "expected host:port");
  auto hp = parse_host_port(s);
  if (!hp) return error(key, hp.status().message());
  out = *hp;
}

void ConfigReader::get(std::string_view key, std::vector<std::string>& out) {
  auto v = lookup(key);
  if (!v) return;
  std::vector<std::string> items;
  if (v->IsScalar()) {
    items.push_back(v->Scalar());
  } else if (v->IsSequence()) {
    for (const auto& item : *v) {
      std::string s;
      if (!scalar(item, s)) return error(key, "expected a list of strings");
      items.push_back(std::move(s));
    }
  } else {
    return error(key, "expected a string or a list of strings");
  }
  out = std::move(items);
}

void ConfigReader::get_choice(std::string_view key, std::string& out,
                              const std::vector<std::string>& choices) {
  std::string s = out;
  get(key, s);
  for (const auto& c : choices) {
    if (c == s) {
      out = s;
      return;
    }
  }
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
  error(key, "must be one of: " + list);
}

ConfigReader ConfigReader::child(std::string_view key) {
  auto v = lookup(key);
  return ConfigReader(v ? *v : YAML::Node(YAML::NodeType::Null), path_of(key), errors_);
}

std::vector<ConfigReader> ConfigReader::items_of(std::string_view key) {
  std::vector<ConfigReader> items;
  auto v = lookup(key);
  if (!v) return items;
  if (!v->IsSequence()) {
    error(key, "expected a list");
    return items;
  }
  for (size_t i = 0; i < v->size(); ++i) {
    items.emplace_back((*v)[i], path_of(key) + "[" + std::to_string(i) + "]", errors_);
  }
  return items;
}

std::vector<std::string> ConfigReader::keys_of(std::string_view key) {
  std::vector<std::string> keys;
  auto v = lookup(key);
  if (!v) return keys;
  if (!v->IsMap()) {
    error(key, "expected a mapping");
    return keys;
  }
  for (const auto& kv : *v) keys.push_back(kv.first.Scalar());
  return keys;
}

void ConfigReader::finish() {
  if (!node_.IsDefined() || !node_.IsMap()) return;
  for (const auto& kv : node_) {
    const std::string key = kv.first.Scalar();
    if (read_.find(key) == read_.end()) error(key, "unknown key");
  }
}

}  // namespace verity::app
