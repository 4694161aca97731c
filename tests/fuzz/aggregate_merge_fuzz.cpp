// Fuzzes the sum of stored aggregates (the "metrics" family's merge operator, the commit group's
// rollups and the report's read): any bytes as terms, some of them valid encodings built from the
// input, with histogram bins among their keys. The one-pass merge must give the flat-map sum's
// bytes, and fail exactly when it fails.
#include <fuzzer/FuzzedDataProvider.h>

#include <optional>
#include <string>
#include <vector>

#include "verity/store/aggregate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace verity::store;
  FuzzedDataProvider in(data, size);
  std::vector<std::string> bytes;
  std::vector<int> signs;
  const size_t k = in.ConsumeIntegralInRange<size_t>(0, 40);
  for (size_t t = 0; t < k && in.remaining_bytes() > 0; ++t) {
    if (in.ConsumeBool()) {
      // Raw bytes: usually malformed; half of them behind the packed encoding's marker.
      std::string raw = in.ConsumeBool() ? std::string("\0\2", 2) : std::string();
      bytes.push_back(raw + in.ConsumeRandomLengthString(256));
    } else {
      Aggregate a;  // a valid encoding of keys and values from the input
      const int n = in.ConsumeIntegralInRange<int>(0, 24);
      for (int i = 0; i < n; ++i) {
        std::string key = in.ConsumeRandomLengthString(12);
        // Half of them histogram bins ("<stem>\x1f<decimal>"): packed items.
        if (in.ConsumeBool()) key += "\x1f" + std::to_string(in.ConsumeIntegral<uint16_t>());
        a.add(key, in.ConsumeFloatingPoint<double>());
      }
      bytes.push_back(a.encode());
    }
    signs.push_back(in.ConsumeBool() ? 1 : -1);
  }
  std::vector<EncodedTerm> terms;
  for (size_t t = 0; t < bytes.size(); ++t) terms.push_back({bytes[t], signs[t]});

  AggregateSum reference;
  bool valid = true;
  for (const auto& t : terms) valid = valid && reference.add_encoded(t.bytes, t.sign);
  std::string out;
  const bool merged = sum_encoded(terms, out);
  if (merged != valid) __builtin_trap();
  if (merged && out != reference.encode()) __builtin_trap();
  if (merged && !Aggregate::decode(out)) __builtin_trap();
  return 0;
}
