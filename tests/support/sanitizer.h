#pragma once

// VERITY_TEST_ASAN is 1 in a build under AddressSanitizer, with GCC (__SANITIZE_ADDRESS__) or clang
// (__has_feature(address_sanitizer); clang before 15 does not define GCC's macro).
#if defined(__SANITIZE_ADDRESS__)
#define VERITY_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VERITY_TEST_ASAN 1
#endif
#endif
#ifndef VERITY_TEST_ASAN
#define VERITY_TEST_ASAN 0
#endif
