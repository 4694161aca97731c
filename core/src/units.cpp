#include "verity/core/units.h"

#include <charconv>
#include <utility>

namespace verity {
namespace {

// Splits "123abc" into 123 and "abc". Fails on no digits or overflow.
bool split_number(std::string_view text, uint64_t& number, std::string_view& suffix) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, number);
  if (ec != std::errc() || ptr == text.data()) return false;
  suffix = std::string_view(ptr, static_cast<size_t>(end - ptr));
  while (!suffix.empty() && suffix.front() == ' ') suffix.remove_prefix(1);
  return true;
}

}  // namespace

Result<Duration> parse_duration(std::string_view text) {
  uint64_t n = 0;
  std::string_view unit;
  if (!split_number(text, n, unit)) {
    return Status::invalid_argument("expected a duration such as 500ms, 5s, 2m, 1h or 7d");
  }
  static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
      {"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
  for (const auto& [name, mult] : kUnits) {
    if (unit == name) {
      if (n > UINT64_MAX / mult / 2) return Status::invalid_argument("duration is too large");
      return Duration(static_cast<int64_t>(n * mult));
    }
  }
  return Status::invalid_argument("unknown duration unit '" + std::string(unit) +
                                  "' (use ms, s, m, h or d)");
}

Result<ByteSize> parse_byte_size(std::string_view text) {
  uint64_t n = 0;
  std::string_view unit;
  if (!split_number(text, n, unit)) {
    return Status::invalid_argument("expected a size such as 4096, 64KiB, 1MiB or 2GiB");
  }
  static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {{"", 1},
                                                                     {"B", 1},
                                                                     {"KiB", 1ull << 10},
                                                                     {"MiB", 1ull << 20},
                                                                     {"GiB", 1ull << 30},
                                                                     {"TiB", 1ull << 40},
                                                                     {"kB", 1000},
                                                                     {"KB", 1000},
                                                                     {"MB", 1'000'000},
                                                                     {"GB", 1'000'000'000},
                                                                     {"TB", 1'000'000'000'000}};
  for (const auto& [name, mult] : kUnits) {
    if (unit == name) {
      if (n > UINT64_MAX / mult) return Status::invalid_argument("size is too large");
      return ByteSize{n * mult};
    }
  }
  return Status::invalid_argument("unknown size unit '" + std::string(unit) +
                                  "' (use B, KiB, MiB, GiB, TiB, kB, MB, GB or TB)");
}

std::string format_duration(Duration d) {
  const int64_t ms = d.count();
  static constexpr std::pair<const char*, int64_t> kUnits[] = {
      {"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1000}};
  for (const auto& [name, mult] : kUnits) {
    if (ms != 0 && ms % mult == 0) return std::to_string(ms / mult) + name;
  }
  return std::to_string(ms) + "ms";
}

std::string format_byte_size(ByteSize s) {
  static constexpr std::pair<const char*, uint64_t> kUnits[] = {
      {"TiB", 1ull << 40}, {"GiB", 1ull << 30}, {"MiB", 1ull << 20}, {"KiB", 1ull << 10}};
  for (const auto& [name, mult] : kUnits) {
    if (s.bytes != 0 && s.bytes % mult == 0) return std::to_string(s.bytes / mult) + name;
  }
  return std::to_string(s.bytes);
}

std::string HostPort::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<HostPort> parse_host_port(std::string_view text) {
  HostPort hp;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Status::invalid_argument("expected [ipv6]:port");
    }
    hp.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
    if (hp.host.find('[') != std::string::npos)
      return Status::invalid_argument("expected [ipv6]:port");
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return Status::invalid_argument("expected host:port");
    hp.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    // An IPv6 address goes in brackets ([::1]:9200), so that the port is unambiguous.
    if (hp.host.find_first_of(":[]") != std::string::npos) {
      return Status::invalid_argument(
          "expected host:port (an IPv6 address in brackets: [::1]:9200)");
    }
  }
  if (hp.host.empty()) return Status::invalid_argument("expected host:port, the host is empty");
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port > 65535 ||
      port_text.empty()) {
    return Status::invalid_argument("the port must be a number from 0 to 65535");
  }
  hp.port = static_cast<uint16_t>(port);
  return hp;
}

}  // namespace verity
