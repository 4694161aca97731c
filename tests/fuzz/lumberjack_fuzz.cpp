// Fuzzes the Lumberjack v2 decoder as a Beats connection drives it: the input is split into reads
// of varying size, every event (Filebeat envelopes included) decoded into a batch.
#include <cstdint>
#include <cstring>

#include "verity/ingest/line_batcher.h"
#include "verity/ingest/lumberjack.h"

namespace {

using namespace verity;

class Handler : public ingest::LumberjackHandler {
 public:
  explicit Handler(ingest::LineBatcher& b) : batcher_(b) {}
  void on_window(uint32_t size) override {
    window_ = size;
    seen_ = 0;
  }
  void on_event(uint32_t seq, std::string_view json, size_t readable) override {
    check(seq);
    if (readable < json.size() + ingest::kJsonPadding) __builtin_trap();
    ingest::FramedLine line;
    line.text = json;
    line.readable = readable;
    line.number = seq;
    line.length = json.size();
    batcher_.add(line);
  }
  void on_oversized_event(uint32_t seq, uint64_t length) override {
    check(seq);
    if (length <= 4096) __builtin_trap();
  }

 private:
  // The decoder promises: events only inside a window, at most `window` of them, seq in range.
  void check(uint32_t seq) {
    if (window_ == 0 || ++seen_ > window_ || seq == 0 || seq > window_) __builtin_trap();
  }
  ingest::LineBatcher& batcher_;
  uint32_t window_ = 0;
  uint32_t seen_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ManualClock clock(1795000000000);
  static auto mappings = std::make_shared<const document::FieldMappingSet>();
  ingest::LineBatcher batcher("fuzz", mappings, clock, ingest::DecoderLimits{4096, 64, 256});
  ingest::LumberjackLimits limits;
  limits.max_event = 4096;
  limits.max_frame = 65536;
  limits.max_inflated = 1 << 20;
  limits.max_window = 1000;
  ingest::LumberjackDecoder decoder(limits, 512);
  Handler handler(batcher);
  size_t pos = 0;
  while (pos < size) {
    auto area = decoder.write_area();
    const size_t want = 1 + data[pos] % area.size();  // read sizes vary with the input
    const size_t n = std::min(want, size - pos);
    std::memcpy(area.data(), data + pos, n);
    decoder.commit(n);
    pos += n;
    if (!decoder.drain(handler)) break;  // a protocol error ends the connection
  }
  batcher.take();
  return 0;
}
