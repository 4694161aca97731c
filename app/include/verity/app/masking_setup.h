#pragma once

#include <memory>
#include <string>

#include "verity/app/config.h"
#include "verity/ingest/masker.h"

namespace verity::app {

// Builds the masker of `config` (nullptr when masking.enabled is false). The HMAC key comes from
// masking.key_file; when that is unset, from <data_dir>/masking.key, which `create_key` creates
// with 32 random bytes (hex, mode 0600) if missing. Without `create_key` (check-config) a missing
// default key file is not an error: the policy is still compiled and checked. Errors name the key
// path: masking.key_file unreadable or empty, invalid patterns.
Result<std::shared_ptr<const ingest::Masker>> build_masker(const Config& config, bool create_key);

}  // namespace verity::app
