// Fuzzes the NDJSON framer and the document decoder together, as a TCP connection drives them: the
// input is split into reads of varying size, every line decoded, under a memory budget the last
// byte sizes (too small for a whole line, just enough, plenty): the framer never holds more than
// the budget grants, and gives it all back.
#include <cstdint>
#include <cstring>

#include "verity/ingest/line_batcher.h"
#include "verity/ingest/ndjson_framer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace verity;
  static ManualClock clock(1795000000000);
  static auto mappings = std::make_shared<const document::FieldMappingSet>();
  ingest::LineBatcher batcher("fuzz", mappings, clock, ingest::DecoderLimits{256, 64, 256});
  if (size == 0) return 0;
  static constexpr size_t kBudgets[] = {200, 600, 64 * 1024};
  ingest::MemoryBudget budget(kBudgets[data[size - 1] % 3]);  // the last byte, usually a newline
  auto framer = std::make_unique<ingest::NdjsonFramer>(256, 64, &budget);
  size_t pos = 0;
  uint64_t lines = 0;
  while (pos < size) {
    auto area = framer->write_area();
    if (budget.used() > budget.limit()) __builtin_trap();
    if (area.empty()) break;  // a connection waits for memory; nothing else would give it back
    // The first byte of each step picks the read size, so splits vary with the input.
    const size_t want = 1 + data[pos] % area.size();
    const size_t n = std::min(want, size - pos);
    std::memcpy(area.data(), data + pos, n);
    framer->commit(n);
    pos += n;
    framer->drain([&](const ingest::FramedLine& l) {
      ++lines;
      if (!l.too_long && l.text.size() > 256) __builtin_trap();
      batcher.add(l);
    });
    framer->trim();
  }
  framer->finish([&](const ingest::FramedLine& l) { batcher.add(l); });
  framer.reset();
  if (budget.used() != 0) __builtin_trap();  // all given back
  auto batch = batcher.take();
  if (batch.events.size() + batch.rejects.size() < lines) __builtin_trap();
  return 0;
}
