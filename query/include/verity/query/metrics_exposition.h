#pragma once

#include <string>

#include "verity/core/http.h"

namespace prometheus {
class Registry;
}

namespace verity::query {

// GET /metrics: every metric of the registry in the Prometheus text format (0.0.4). Thread-safe.
HttpResponse metrics_response(const prometheus::Registry& registry);

}  // namespace verity::query
