#include "verity/core/config_schema.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace verity::config {

std::string format_number(double v) {
  char buf[32];
  for (int precision : {15, 17}) {  // the shortest of these that reads back the same double
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string_view type_name(Type t) {
  switch (t) {
    case Type::kString:
      return "string";
    case Type::kSecret:
      return "secret";
    case Type::kBool:
      return "boolean";
    case Type::kCount:
      return "integer";
    case Type::kNumber:
      return "number";
    case Type::kDuration:
      return "duration";
    case Type::kSize:
      return "size";
    case Type::kHostPort:
      return "host:port";
    case Type::kChoice:
      return "choice";
    case Type::kStrings:
      return "list of strings";
    case Type::kListMap:
      return "mapping of lists";
  }
  return "string";
}

const std::string* scalar_of(const Value& v) { return std::get_if<std::string>(&v); }

std::string choice_range(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!n.empty()) out += (out.empty() ? "" : " | ") + n;
  }
  return out;
}

std::string choice_list(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::string parse_count(std::string_view s, uint64_t min, uint64_t max, uint64_t& out) {
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) {
    return "expected a whole number";
  }
  if (n < min || n > max) {
    return "must be from " + std::to_string(min) + " to " + std::to_string(max);
  }
  out = n;
  return "";
}

std::string range_text(ByteSize min, ByteSize max) {
  if (max.bytes == UINT64_MAX) {
    return min.bytes == 0 ? "" : "at least " + format_byte_size(min);
  }
  return format_byte_size(min) + " to " + format_byte_size(max);
}

std::string parse_size(std::string_view s, ByteSize min, ByteSize max, ByteSize& out) {
  auto b = parse_byte_size(s);
  if (!b) return b.status().message();
  if (b->bytes < min.bytes || b->bytes > max.bytes) {
    if (max.bytes == UINT64_MAX) return "must be at least " + format_byte_size(min);
    return "must be from " + format_byte_size(min) + " to " + format_byte_size(max);
  }
  out = *b;
  return "";
}

Section::Entry& Section::add(std::string_view name, std::string_view doc) {
  Entry e;
  e.name = std::string(name);
  e.doc = std::string(doc);
  entries_.push_back(std::move(e));
  return entries_.back();
}

const Section::Entry* Section::find(std::string_view name) const {
  for (const auto& e : entries_) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

Section& Section::custom(Key key) {
  std::string name = key.name;
  std::string doc = key.doc;
  add(name, doc).key = std::move(key);
  return *this;
}

Section& Section::text(std::string_view name, std::string& v, std::string_view doc) {
  Key k;
  k.name = std::string(name);
  k.type = Type::kString;
  k.doc = std::string(doc);
  k.get = [&v]() -> std::optional<Value> { return v; };
  k.set = [&v](const Value& value) -> std::string {
    const std::string* s = scalar_of(value);
    if (s == nullptr) return "expected a string";
    v = *s;
    return "";
  };
  return custom(std::move(k));
}

Section& Section::secret(std::string_view name, std::string& v, std::string_view doc) {
  text(name, v, doc);
  entries_.back().key->type = Type::kSecret;
  return *this;
}

Section& Section::flag(std::string_view name, bool& v, std::string_view doc) {
  Key k;
  k.name = std::string(name);
  k.type = Type::kBool;
  k.doc = std::string(doc);
  k.get = [&v]() -> std::optional<Value> { return std::string(v ? "true" : "false"); };
  k.set = [&v](const Value& value) -> std::string {
    const std::string* s = scalar_of(value);
    if (s == nullptr || (*s != "true" && *s != "false")) return "expected true or false";
    v = *s == "true";
    return "";
  };
  return custom(std::move(k));
}

Section& Section::number(std::string_view name, double& v, std::string_view doc) {
  Key k;
  k.name = std::string(name);
  k.type = Type::kNumber;
  k.doc = std::string(doc);
  k.get = [&v]() -> std::optional<Value> { return format_number(v); };
  k.set = [&v](const Value& value) -> std::string {
    const std::string* s = scalar_of(value);
    if (s == nullptr) return "expected a number";
    char* end = nullptr;
    const double d = std::strtod(s->c_str(), &end);
    if (end == s->c_str() || *end != '\0') return "expected a number";
    v = d;
    return "";
  };
  return custom(std::move(k));
}

Section& Section::duration(std::string_view name, Duration& v, Duration min, std::string_view doc) {
  Key k;
  k.name = std::string(name);
  k.type = Type::kDuration;
  k.doc = std::string(doc);
  if (min.count() > 1) k.range = "at least " + format_duration(min);
  if (min.count() == 1) k.range = "more than 0";
  k.get = [&v]() -> std::optional<Value> { return format_duration(v); };
  k.set = [&v, min](const Value& value) -> std::string {
    const std::string* s = scalar_of(value);
    if (s == nullptr) return "expected a duration such as 500ms, 5s, 2m, 1h or 7d";
    auto d = parse_duration(*s);
    if (!d) return d.status().message();
    if (*d < min) {
      if (min.count() == 1) return "must be positive";
      if (min.count() <= 0) return "must not be negative";
      return "must be at least " + format_duration(min);
    }
    v = *d;
    return "";
  };
  return custom(std::move(k));
}

Section& Section::size(std::string_view name, ByteSize& v, ByteSize min, ByteSize max,
                       std::string_view doc) {
  return size(name, v.bytes, min, max, doc);
}

Section& Section::host_port(std::string_view name, HostPort& v, std::string_view doc) {
  Key k;
  k.name = std::string(name);
  k.type = Type::kHostPort;
  k.doc = std::string(doc);
  k.get = [&v]() -> std::optional<Value> { return v.to_string(); };
  k.set = [&v](const Value& value) -> std::string {
    const std::string* s = scalar_of(value);
    if (s == nullptr) return "expected host:port";
    auto hp = parse_host_port(*s);
    if (!hp) return hp.status().message();
    v = *hp;
    return "";
  };
  return custom(std::move(k));
}

Section& Section::strings(std::string_view name, std::vector<std::string>& v,
                          std::string_view doc) {
  Key k;
  k.name = std::string(name);
  k.type = Type::kStrings;
  k.doc = std::string(doc);
  k.get = [&v]() -> std::optional<Value> { return v; };
  k.set = [&v](const Value& value) -> std::string {
    const auto* list = std::get_if<std::vector<std::string>>(&value);
    if (list == nullptr) return "expected a string or a list of strings";
    v = *list;
    return "";
  };
  return custom(std::move(k));
}

Section& Section::choice(std::string_view name, std::string& v, std::vector<std::string> choices,
                         std::string_view doc) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& c : choices) pairs.emplace_back(c, c);
  return choice<std::string>(name, v, std::move(pairs), doc);
}

Section& Section::child(std::string_view name, std::string_view doc) {
  Entry& e = add(name, doc);
  e.section = std::make_unique<Section>(std::string(doc));
  return *e.section;
}

Section& Section::shown_when(std::function<bool()> shown) {
  if (entries_.empty() || !entries_.back().key) return *this;
  entries_.back().key->shown = std::move(shown);
  return *this;
}

Section& Section::check(std::function<void(Problems&)> rule) {
  checks_.push_back(std::move(rule));
  return *this;
}

}  // namespace verity::config
