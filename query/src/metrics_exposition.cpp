#include "verity/query/metrics_exposition.h"

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace verity::query {

HttpResponse metrics_response(const prometheus::Registry& registry) {
  HttpResponse res;
  res.content_type = "text/plain; version=0.0.4; charset=utf-8";
  res.body = prometheus::TextSerializer().Serialize(registry.Collect());
  return res;
}

}  // namespace verity::query
