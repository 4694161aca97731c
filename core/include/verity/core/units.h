#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "verity/core/status.h"

namespace verity {

using Duration = std::chrono::milliseconds;

// A size in bytes, parsed from "512", "64KiB", "1MiB", "2GiB", "10MB" (SI, powers of 1000) or
// "10kB".
struct ByteSize {
  uint64_t bytes = 0;
  friend bool operator==(ByteSize, ByteSize) = default;
};

// Parses "250ms", "5s", "2m", "1h", "7d"; a bare integer is milliseconds.
Result<Duration> parse_duration(std::string_view text);
Result<ByteSize> parse_byte_size(std::string_view text);

// Renders the largest exact unit: 1048576 -> "1MiB", 5000ms -> "5s".
std::string format_duration(Duration d);
std::string format_byte_size(ByteSize s);

// "host:port" with an IPv4 address, a bracketed IPv6 address or a name; port 0..65535 (0: any free
// port).
struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string to_string() const;
  friend bool operator==(const HostPort&, const HostPort&) = default;
};
Result<HostPort> parse_host_port(std::string_view text);

}  // namespace verity
