#pragma once

#include <exception>
#include <string>
#include <string_view>
#include <type_traits>

#include "verity/core/status.h"

namespace verity {

// Runs f() and turns any exception that escapes it into a kInternal Status naming `what`. For the
// tops of threads and the edges of libraries that may throw (std::bad_alloc above all): never the
// normal way to fail, which is a returned Status. f returns Status or void.
template <typename F>
Status guarded(std::string_view what, F&& f) noexcept {
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<F>>) {
      f();
      return Status::ok();
    } else {
      return f();
    }
  } catch (const std::exception& e) {
    return Status::internal(std::string(what) + ": unexpected exception: " + e.what());
  } catch (...) {
    return Status::internal(std::string(what) + ": unexpected exception");
  }
}

}  // namespace verity
