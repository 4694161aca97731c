#pragma once

// Names a thread (as `top -H`, `ps -L`, /proc/PID/task/*/comm and `perf report --sort comm` show
// it), like Fluent Bit's flb-pipeline and RocksDB's rocksdb:low. Named by the thread that starts
// it, so the name is there once the starter goes on. Linux keeps 15 bytes; a longer name is cut.
// Naming is best effort: a failure changes nothing else.

#include <pthread.h>

#include <string>
#include <thread>

namespace verity {

inline void set_thread_name(std::thread& thread, const std::string& name) {
  const std::string cut = name.substr(0, 15);
  (void)pthread_setname_np(thread.native_handle(), cut.c_str());
}

}  // namespace verity
