// Fuzzes the config parser: any text yields a Config or a list of errors, never a crash, and an
// accepted config renders to YAML that parses back to the same rendering.
#include <cstdint>
#include <string>

#include "verity/app/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto c = verity::app::parse_config(text);
  if (c.is_ok()) {
    // With the secrets written out: <hidden> is shorter than a token may be.
    const std::string once = verity::app::render_config(*c, /*reveal_secrets=*/true);
    auto again = verity::app::parse_config(once);
    if (!again.is_ok() || verity::app::render_config(*again, true) != once) __builtin_trap();
    verity::app::render_config(*c);  // the hidden rendering must not fail either
  }
  return 0;
}
