// Fuzzes what `verity kibana setup` reads from Kibana: any status and any bytes as the import
// API's answer. Never a crash or an exception; an answer that is not Kibana's documented shape is
// an error Status, and a success lists only objects with a type.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "verity/shippers/kibana_setup.h"

namespace {

struct Answering : verity::shippers::HttpClient {
  long status = 200;
  std::string body;
  verity::Result<verity::shippers::HttpAnswer> send(const verity::shippers::HttpCall&) override {
    verity::shippers::HttpAnswer a;
    a.status = status;
    a.body = body;
    return a;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  Answering client;
  client.status = in.ConsumeBool() ? 200 : in.ConsumeIntegralInRange<long>(0, 999);
  client.body = in.ConsumeRemainingBytesAsString();
  verity::shippers::KibanaOptions o;
  o.url = "http://kibana:5601";
  auto r = verity::shippers::kibana_setup(o, &client);
  if (r.is_ok() && client.status != 200) std::abort();
  if (r.is_ok()) {
    for (const auto& c : *r) {
      if (c.outcome != "created" && c.outcome != "updated") std::abort();
    }
  }
  return 0;
}
