# Every dependency comes from a Debian bookworm package. A missing one stops configuration with the name of
# the package to install (scripts/deps installs them all).

function(verity_require found package)
  if(NOT ${found})
    message(FATAL_ERROR "Missing dependency: install the Debian package '${package}' "
                        "(apt-get install ${package}, or run scripts/deps)")
  endif()
endfunction()

find_package(Threads REQUIRED)

find_package(Boost 1.81 CONFIG QUIET)
verity_require(Boost_FOUND libboost1.81-dev)

find_package(simdjson CONFIG QUIET)
verity_require(simdjson_FOUND libsimdjson-dev)

find_package(RocksDB CONFIG QUIET)
verity_require(RocksDB_FOUND librocksdb-dev)
# Debian ships RocksDB as a shared library and as a static archive from the same build. Linked
# statically, its thread-local counters (perf_context, perf_level, read on every write and read)
# are reached directly instead of through __tls_get_addr (~2-3% of ingest CPU in `perf`).
option(VERITY_ROCKSDB_STATIC "link RocksDB's static archive" ON)
add_library(verity_rocksdb INTERFACE)
if(VERITY_ROCKSDB_STATIC)
  target_link_libraries(verity_rocksdb INTERFACE RocksDB::rocksdb)
else()
  target_link_libraries(verity_rocksdb INTERFACE RocksDB::rocksdb-shared)
endif()

find_package(PkgConfig QUIET)
verity_require(PKG_CONFIG_FOUND pkg-config)
pkg_check_modules(ZSTD QUIET IMPORTED_TARGET libzstd)
verity_require(ZSTD_FOUND libzstd-dev)

pkg_check_modules(HS QUIET IMPORTED_TARGET libhs)
verity_require(HS_FOUND libvectorscan-dev)

if(VERITY_JEMALLOC)
  pkg_check_modules(JEMALLOC QUIET IMPORTED_TARGET jemalloc)
  verity_require(JEMALLOC_FOUND libjemalloc-dev)
endif()

find_package(ZLIB QUIET)
verity_require(ZLIB_FOUND zlib1g-dev)

pkg_check_modules(DEFLATE QUIET IMPORTED_TARGET libdeflate)
verity_require(DEFLATE_FOUND libdeflate-dev)

find_path(RAPIDJSON_INCLUDE_DIRS rapidjson/writer.h)
verity_require(RAPIDJSON_INCLUDE_DIRS rapidjson-dev)

find_package(CURL QUIET)
verity_require(CURL_FOUND libcurl4-openssl-dev)

find_package(prometheus-cpp CONFIG QUIET)
verity_require(prometheus-cpp_FOUND prometheus-cpp-dev)

find_package(yaml-cpp CONFIG QUIET)
verity_require(yaml-cpp_FOUND libyaml-cpp-dev)

find_package(CLI11 CONFIG QUIET)
verity_require(CLI11_FOUND libcli11-dev)

find_package(spdlog CONFIG QUIET)
verity_require(spdlog_FOUND libspdlog-dev)

find_package(OpenSSL QUIET)
verity_require(OPENSSL_FOUND libssl-dev)

if(VERITY_BUILD_TESTS)
  find_package(GTest CONFIG QUIET)
  verity_require(GTest_FOUND "googletest libgtest-dev libgmock-dev")
endif()
if(VERITY_BUILD_BENCH)
  find_package(benchmark CONFIG QUIET)
  verity_require(benchmark_FOUND libbenchmark-dev)
endif()
