#include "verity/ingest/lumberjack.h"

#include "verity/ingest/memory_budget.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <vector>

namespace verity::ingest {
namespace {

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}
std::string window(uint32_t n) { return "2W" + be32(n); }
std::string json(uint32_t seq, const std::string& p) {
  return "2J" + be32(seq) + be32(static_cast<uint32_t>(p.size())) + p;
}
std::string compressed(const std::string& frames) {
  uLongf n = compressBound(frames.size());
  std::string z(n, '\0');
  EXPECT_EQ(compress(reinterpret_cast<Bytef*>(z.data()), &n,
                     reinterpret_cast<const Bytef*>(frames.data()), frames.size()),
            Z_OK);
  z.resize(n);
  return "2C" + be32(static_cast<uint32_t>(z.size())) + z;
}

struct Recorder : LumberjackHandler {
  std::vector<std::string> log;
  void on_window(uint32_t size) override { log.push_back("W" + std::to_string(size)); }
  void on_event(uint32_t seq, std::string_view j, size_t readable) override {
    EXPECT_GE(readable, j.size() + 64);
    log.push_back(std::to_string(seq) + ":" + std::string(j));
  }
  void on_oversized_event(uint32_t seq, uint64_t length) override {
    log.push_back(std::to_string(seq) + ":oversized " + std::to_string(length));
  }
};

// Feeds `stream` in reads of `chunk` bytes; returns the first error.
Status feed(LumberjackDecoder& d, Recorder& r, const std::string& stream, size_t chunk) {
  for (size_t pos = 0; pos < stream.size();) {
    auto area = d.write_area();
    const size_t n = std::min({chunk, area.size(), stream.size() - pos});
    std::memcpy(area.data(), stream.data() + pos, n);
    d.commit(n);
    pos += n;
    if (auto s = d.drain(r); !s) return s;
  }
  return Status::ok();
}

TEST(Lumberjack, DecodesPlainAndCompressedWindowsWhateverTheReadSizes) {
  LumberjackLimits limits;
  limits.max_event = 100;
  const std::string stream = window(3) + json(1, "{\"a\":1}") +
                             compressed(json(2, "{\"b\":2}") + json(3, std::string(150, 'x'))) +
                             window(1) + json(1, std::string(200, 'y')) + window(1) + json(1, "{}");
  for (size_t chunk : {1, 3, 7, 64, 4096}) {
    LumberjackDecoder d(limits, 16);
    Recorder r;
    ASSERT_TRUE(feed(d, r, stream, chunk)) << chunk;
    EXPECT_EQ(r.log,
              (std::vector<std::string>{"W3", "1:{\"a\":1}", "2:{\"b\":2}", "3:oversized 150", "W1",
                                        "1:oversized 200", "W1", "1:{}"}))
        << chunk;
    EXPECT_EQ(d.window_remaining(), 0u);
  }
}

// Takes `room` events, then reports full() until the connection submits (room is given again).
struct Bounded : Recorder {
  size_t room = 0;
  size_t events = 0;
  void on_event(uint32_t seq, std::string_view j, size_t readable) override {
    Recorder::on_event(seq, j, readable);
    ++events;
    EXPECT_GT(room, 0u) << "an event after full()";
    if (room > 0) --room;
  }
  bool full() const override { return room == 0; }
};

TEST(Lumberjack, ACompressedFrameIsInflatedAsItStreamsWithinBoundedMemory) {
  // One compressed frame holding 20 000 events (about 2.4 MB inflated, tens of kB on the wire).
  LumberjackLimits limits;
  limits.max_event = 4096;
  std::string frames;
  for (uint32_t i = 1; i <= 20000; ++i) {
    frames += json(i, R"({"request_id":"r-)" + std::to_string(i) + R"(","pad":")" +
                          std::string(80, 'p') + "\"}");
  }
  const std::string stream = window(20000) + compressed(frames);
  MemoryBudget budget(1 << 20);
  LumberjackDecoder d(limits, 4096, &budget);
  Bounded r;
  size_t peak = 0;
  for (size_t pos = 0; pos < stream.size() || d.pending();) {
    if (d.pending() || r.full()) {
      r.room = 100;  // the connection submitted its batch
      ASSERT_TRUE(d.drain(r));
    } else {
      auto area = d.write_area();
      ASSERT_FALSE(area.empty());
      const size_t n = std::min({size_t{1000}, area.size(), stream.size() - pos});
      std::memcpy(area.data(), stream.data() + pos, n);
      d.commit(n);
      pos += n;
      ASSERT_TRUE(d.drain(r));
    }
    EXPECT_EQ(budget.used(), d.memory());  // every buffer is accounted to the budget
    peak = std::max(peak, d.memory());
  }
  EXPECT_EQ(r.events, 20000u);
  // A chunk of inflated bytes, a partial frame, zlib's state and the read area: never the frame.
  EXPECT_LT(peak, 200u * 1024) << "peak " << peak;
  d.trim();
  EXPECT_LE(d.memory(), 4096u + 64);
  EXPECT_EQ(budget.used(), d.memory());
}

TEST(Lumberjack, ADecoderShortOfMemoryStopsAndGoesOnWhenMemoryComesBack) {
  LumberjackLimits limits;
  limits.max_event = 4096;
  std::string frames;
  for (uint32_t i = 1; i <= 50; ++i) frames += json(i, std::string(1000, 'a' + i % 26));
  const std::string stream = window(50) + compressed(frames);
  MemoryBudget budget(128 * 1024);
  MemoryLease other(&budget);  // another connection holds almost everything
  ASSERT_TRUE(other.resize(128 * 1024 - 6000));
  LumberjackDecoder d(limits, 4096, &budget);
  Recorder r;
  size_t pos = 0;
  bool starved = false;
  while (pos < stream.size()) {
    auto area = d.write_area();
    if (area.empty() || d.starved()) {
      starved = true;
      break;
    }
    const size_t n = std::min(area.size(), stream.size() - pos);
    std::memcpy(area.data(), stream.data() + pos, n);
    d.commit(n);
    pos += n;
    ASSERT_TRUE(d.drain(r));
    // zlib's state is counted even past the limit; buffers are not granted past it.
    EXPECT_EQ(budget.used(), d.memory() + 128 * 1024 - 6000);
    if (d.starved()) {
      starved = true;
      EXPECT_TRUE(d.pending());
      break;
    }
  }
  ASSERT_TRUE(starved) << "the decoder never ran short of memory";
  EXPECT_LT(r.log.size(), 51u);
  other.resize(0);  // memory comes back: decoding goes on where it stopped
  ASSERT_TRUE(d.drain(r));
  ASSERT_TRUE(feed(d, r, stream.substr(pos), 4096));
  ASSERT_EQ(r.log.size(), 51u);
  EXPECT_EQ(r.log.back(), "50:" + std::string(1000, 'a' + 50 % 26));
}

TEST(Lumberjack, ProtocolViolationsAreErrors) {
  LumberjackLimits limits;
  limits.max_window = 10;
  limits.max_frame = 1000;
  limits.max_inflated = 10000;
  auto error = [&](const std::string& stream) {
    LumberjackDecoder d(limits);
    Recorder r;
    const Status s = feed(d, r, stream, 4096);
    return s ? std::string("ok") : s.message();
  };
  EXPECT_EQ(error(json(1, "{}")), "data frame (seq 1) outside a window");
  EXPECT_EQ(error(window(1) + json(2, "{}")), "data frame seq 2 is outside the window of 1");
  EXPECT_EQ(error(window(1) + json(1, "{}") + json(1, "{}")),
            "data frame (seq 1) outside a window");
  EXPECT_EQ(error(window(2) + json(1, "{}") + window(1)),
            "window frame before the previous window's 2 events arrived");
  EXPECT_EQ(error(window(11)), "window size 11 is outside 1..10");
  EXPECT_EQ(error(window(0)), "window size 0 is outside 1..10");
  EXPECT_EQ(error("1W" + be32(1)),
            "unsupported protocol version byte 0x31 (Lumberjack v2 frames "
            "start with '2')");
  EXPECT_EQ(error("2D" + be32(1)), "unexpected frame type 'D'");
  EXPECT_EQ(error("2C" + be32(5000)), "compressed frame of 5000 bytes exceeds max_frame of 1000");
  EXPECT_EQ(error(window(1) + compressed(window(1))),
            "unexpected frame type 'W' inside a compressed frame");
  EXPECT_EQ(error(window(1) + compressed(json(1, "{}").substr(0, 7))),
            "compressed frame ends inside a frame header");
  EXPECT_EQ(error(window(1) + compressed(json(1, "{\"a\":1}").substr(0, 12))),
            "compressed frame ends inside a data frame");
  EXPECT_EQ(error(window(1) + compressed(json(1, std::string(20000, '0')))),
            "compressed frame: zlib data inflates beyond the limit of 10000 bytes");
  EXPECT_EQ(error(window(1) + "2C" + be32(3) + "abc"),
            "compressed frame: zlib stream is corrupt: incorrect header check");
  // A partial frame at the end of a stream is not an error: the rest may still come.
  EXPECT_EQ(error(window(2) + json(1, "{}") + "2J" + be32(2)), "ok");
}

TEST(Lumberjack, AckFrames) {
  EXPECT_EQ(lumberjack_ack(0), std::string("2A\0\0\0\0", 6));
  EXPECT_EQ(lumberjack_ack(0x01020304), "2A\x01\x02\x03\x04");
}

}  // namespace
}  // namespace verity::ingest
