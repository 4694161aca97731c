#include "verity/core/units.h"

#include <gtest/gtest.h>

namespace verity {
namespace {

TEST(ParseDuration, AcceptsEveryUnit) {
  EXPECT_EQ(parse_duration("250ms").value(), Duration(250));
  EXPECT_EQ(parse_duration("5s").value(), Duration(5000));
  EXPECT_EQ(parse_duration("2m").value(), Duration(120'000));
  EXPECT_EQ(parse_duration("1h").value(), Duration(3'600'000));
  EXPECT_EQ(parse_duration("7d").value(), Duration(7 * 86'400'000LL));
  EXPECT_EQ(parse_duration("42").value(), Duration(42));
}

TEST(ParseDuration, RejectsUnknownUnitsAndGarbage) {
  EXPECT_FALSE(parse_duration("5 parsecs").is_ok());
  EXPECT_FALSE(parse_duration("s").is_ok());
  EXPECT_FALSE(parse_duration("").is_ok());
  EXPECT_FALSE(parse_duration("-5s").is_ok());
  EXPECT_NE(parse_duration("5y").status().message().find("unknown duration unit 'y'"),
            std::string::npos);
}

TEST(ParseByteSize, BinaryAndSiUnits) {
  EXPECT_EQ(parse_byte_size("1MiB").value().bytes, 1ull << 20);
  EXPECT_EQ(parse_byte_size("64KiB").value().bytes, 64ull << 10);
  EXPECT_EQ(parse_byte_size("2GiB").value().bytes, 2ull << 30);
  EXPECT_EQ(parse_byte_size("10MB").value().bytes, 10'000'000ull);
  EXPECT_EQ(parse_byte_size("512").value().bytes, 512ull);
  EXPECT_FALSE(parse_byte_size("1 furlong").is_ok());
  EXPECT_FALSE(parse_byte_size("99999999999999999999").is_ok());
}

TEST(Format, RoundTripsExactUnits) {
  EXPECT_EQ(format_byte_size({1ull << 20}), "1MiB");
  EXPECT_EQ(format_byte_size({1000}), "1000");
  EXPECT_EQ(format_duration(Duration(300'000)), "5m");
  EXPECT_EQ(format_duration(Duration(1500)), "1500ms");
  for (const char* s : {"64KiB", "3GiB", "17"}) {
    EXPECT_EQ(format_byte_size(parse_byte_size(s).value()), s);
  }
}

TEST(ParseHostPort, Ipv4Ipv6AndNames) {
  auto hp = parse_host_port("127.0.0.1:5170").value();
  EXPECT_EQ(hp.host, "127.0.0.1");
  EXPECT_EQ(hp.port, 5170);
  auto v6 = parse_host_port("[::1]:0").value();
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 0);
  EXPECT_EQ(v6.to_string(), "[::1]:0");
  EXPECT_EQ(parse_host_port("localhost:80").value().host, "localhost");
  EXPECT_FALSE(parse_host_port("127.0.0.1").is_ok());
  EXPECT_FALSE(parse_host_port(":80").is_ok());
  EXPECT_FALSE(parse_host_port("h:65536").is_ok());
  EXPECT_FALSE(parse_host_port("h:12x").is_ok());
  EXPECT_FALSE(parse_host_port("[::1]80").is_ok());
}

// What parses is what to_string writes back: an unbracketed IPv6 address (or a stray bracket)
// would be written as something else, so it is refused.
TEST(ParseHostPort, WhatParsesIsWrittenBackTheSame) {
  EXPECT_FALSE(parse_host_port("::1:80").is_ok());
  EXPECT_FALSE(parse_host_port("a]:b:1").is_ok());
  EXPECT_FALSE(parse_host_port("a[b:1").is_ok());
  EXPECT_FALSE(parse_host_port("[a[b]:1").is_ok());
  for (const char* text : {"127.0.0.1:1", "[::1]:9200", "[fe80::1%eth0]:5", "host.example:0",
                           "[abc]:7", "ä.example:65535"}) {
    auto hp = parse_host_port(text);
    ASSERT_TRUE(hp.is_ok()) << text;
    auto again = parse_host_port(hp->to_string());
    ASSERT_TRUE(again.is_ok()) << text << " -> " << hp->to_string();
    EXPECT_EQ(*again, *hp) << text;
  }
}

}  // namespace
}  // namespace verity
