#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <string>

#include "verity/shippers/es_service.h"

namespace verity::shippers {
namespace {

// What a server (Elasticsearch, or zlib's own inflate with gzip framing) reads back.
std::string gunzip(const std::string& in) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buf[65536];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  }
  EXPECT_EQ(rc, Z_STREAM_END) << "not one complete gzip member";
  EXPECT_EQ(z.avail_in, 0u) << "bytes after the gzip member";
  inflateEnd(&z);
  return out;
}

// Bodies of every shape the shipper sends (empty, tiny, NDJSON, incompressible bytes, several MB),
// compressed by gzip_compress and read back by zlib: the same bytes.
TEST(GzipCompress, ZlibReadsBackEveryBody) {
  std::mt19937 rng(11);
  std::vector<std::string> bodies = {"", "x", std::string(1 << 20, 'a')};
  std::string ndjson;
  while (ndjson.size() < (5u << 20)) {
    ndjson += R"({"create":{}})"
              "\n"
              R"({"request_id":"r-)" +
              std::to_string(rng()) + R"(","score":0.)" + std::to_string(rng() % 1000) + "}\n";
  }
  bodies.push_back(ndjson);
  std::string noise(300000, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  bodies.push_back(noise);
  for (const auto& body : bodies) {
    const std::string gz = gzip_compress(body);
    ASSERT_GE(gz.size(), 18u) << "a gzip member has a 10-byte header and an 8-byte trailer";
    EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);
    EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
    EXPECT_EQ(gunzip(gz), body) << body.size() << " bytes";
  }
  EXPECT_LT(gzip_compress(ndjson).size(), ndjson.size() / 3) << "NDJSON compresses";
}

}  // namespace
}  // namespace verity::shippers
