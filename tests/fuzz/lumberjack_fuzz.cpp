// Fuzzes the Lumberjack v2 decoder as a Beats connection drives it: the input is split into reads
// of varying size, every event (Filebeat envelopes included) decoded into a batch that is taken
// when the handler reports full(), under a memory budget the input's first byte sizes (so
// compressed frames are inflated as they stream, stop half-way and go on, or starve). The decoder
// must account every byte it holds to the budget and stay within it (zlib's state aside).
#include <cstdint>
#include <cstring>

#include "verity/ingest/line_batcher.h"
#include "verity/ingest/lumberjack.h"
#include "verity/ingest/memory_budget.h"

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
    ++events_;
  }
  void on_oversized_event(uint32_t seq, uint64_t length) override {
    check(seq);
    if (length <= 4096) __builtin_trap();
    ++events_;
  }
  bool full() const override { return events_ >= max_events_; }
  void set_max_events(uint32_t n) { max_events_ = n; }
  // The connection submits its batch: the handler takes events again.
  void submit() {
    batcher_.take();
    events_ = 0;
  }

 private:
  // The decoder promises: events only inside a window, at most `window` of them, seq in range.
  void check(uint32_t seq) {
    if (window_ == 0 || ++seen_ > window_ || seq == 0 || seq > window_) __builtin_trap();
  }
  ingest::LineBatcher& batcher_;
  uint32_t window_ = 0;
  uint32_t seen_ = 0;
  uint32_t events_ = 0;
  uint32_t max_events_ = 1;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ManualClock clock(1795000000000);
  static auto mappings = std::make_shared<const document::FieldMappingSet>();
  if (size < 2) return 0;
  ingest::LineBatcher batcher("fuzz", mappings, clock, ingest::DecoderLimits{4096, 64, 256});
  ingest::LumberjackLimits limits;
  limits.max_event = 4096;
  limits.max_frame = 65536;
  limits.max_inflated = 1 << 20;
  limits.max_window = 1000;
  // 8 KiB .. 2 MiB: from too little for one event to plenty.
  ingest::MemoryBudget budget(size_t{8192} << (data[0] % 9));
  Handler handler(batcher);
  handler.set_max_events(1 + data[1] % 16);
  data += 2;
  size -= 2;
  {
    ingest::LumberjackDecoder decoder(limits, 512, &budget);
    constexpr size_t kZlibState = 64 * 1024;  // forced past the limit: counted, not refused
    size_t pos = 0;
    while (pos < size) {
      if (decoder.pending()) {  // what was received first, as the connection does
        handler.submit();
        if (!decoder.drain(handler)) break;
        if (decoder.pending() && decoder.starved() && !handler.full()) break;  // waits for memory
        continue;
      }
      auto area = decoder.write_area();
      if (area.empty()) break;  // nothing else holds the budget: it would wait for ever
      const size_t want = 1 + data[pos] % area.size();  // read sizes vary with the input
      const size_t n = std::min(want, size - pos);
      std::memcpy(area.data(), data + pos, n);
      decoder.commit(n);
      pos += n;
      if (!decoder.drain(handler)) break;  // a protocol error ends the connection
      if (budget.used() != decoder.memory()) __builtin_trap();  // every byte accounted
      if (budget.used() > budget.limit() + kZlibState) __builtin_trap();
      if (!decoder.pending()) decoder.trim();
    }
    handler.submit();
  }
  if (budget.used() != 0) __builtin_trap();  // all given back
  return 0;
}
