#include "verity/ingest/inflate.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace verity::ingest {
namespace {

std::string deflate_bytes(const std::string& in, bool gzip) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, gzip ? 16 + MAX_WBITS : MAX_WBITS, 8,
                         Z_DEFAULT_STRATEGY),
            Z_OK);
  std::string out(deflateBound(&z, in.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

TEST(Inflate, RoundTripsZlibAndGzip) {
  const std::string text(100000, 'x');
  for (bool gzip : {false, true}) {
    std::string out;
    ASSERT_TRUE(inflate(deflate_bytes(text, gzip),
                        gzip ? InflateFormat::kGzip : InflateFormat::kZlib, text.size(), out));
    EXPECT_EQ(out, text);
  }
}

TEST(Inflate, AcceptsConcatenatedGzipMembers) {
  std::string out;
  ASSERT_TRUE(inflate(deflate_bytes("ab", true) + deflate_bytes("cd", true), InflateFormat::kGzip,
                      100, out));
  EXPECT_EQ(out, "abcd");
}

// A bomb: 1 MB of zeros compresses to about 1 KB; the limit stops it without inflating it all.
TEST(Inflate, StopsAtTheOutputLimit) {
  const std::string bomb = deflate_bytes(std::string(1 << 20, '\0'), false);
  ASSERT_LT(bomb.size(), 2000u);
  std::string out;
  const Status s = inflate(bomb, InflateFormat::kZlib, 64 * 1024, out);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_LE(out.size(), 64u * 1024 + 1);
  out.clear();
  EXPECT_TRUE(inflate(bomb, InflateFormat::kZlib, 1 << 20, out));  // exactly at the limit is fine
  EXPECT_EQ(out.size(), 1u << 20);
}

TEST(Inflate, RejectsCorruptTruncatedAndTrailingInput) {
  const std::string good = deflate_bytes("hello hello hello", false);
  std::string out;
  EXPECT_EQ(inflate(good.substr(0, good.size() - 3), InflateFormat::kZlib, 100, out).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(inflate(good + "x", InflateFormat::kZlib, 100, out).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(inflate("not compressed", InflateFormat::kGzip, 100, out).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(inflate("", InflateFormat::kZlib, 100, out).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace verity::ingest
