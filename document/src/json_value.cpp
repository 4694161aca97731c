#include "verity/document/json_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

namespace verity::document {

bool json_number_syntax(std::string_view t) {
  size_t i = 0;
  auto digit = [&](size_t k) { return k < t.size() && t[k] >= '0' && t[k] <= '9'; };
  if (i < t.size() && t[i] == '-') ++i;
  if (!digit(i)) return false;
  if (t[i] == '0') {
    ++i;
  } else {
    while (digit(i)) ++i;
  }
  if (i < t.size() && t[i] == '.') {
    ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  return i == t.size();
}

bool is_big_integer(std::string_view t) {
  if (t.find_first_of(".eE") != std::string_view::npos || !json_number_syntax(t)) return false;
  const size_t digits = t.size() - (t.front() == '-' ? 1 : 0);
  return digits >= 19;  // 2^63 has 19 digits; shorter integers fit, longer may not
}

namespace {

namespace od = simdjson::ondemand;

// Collects the byte ranges of number tokens simdjson cannot hold (integers past 64 bits).
simdjson::error_code find_big_numbers(od::value v, const char* base, int depth,
                                      std::vector<std::pair<size_t, size_t>>& out) {
  if (depth > 1024) return simdjson::DEPTH_ERROR;
  od::json_type type;
  if (auto e = v.type().get(type)) return e;
  switch (type) {
    case od::json_type::object: {
      od::object obj;
      if (auto e = v.get_object().get(obj)) return e;
      for (auto field : obj) {
        od::value child;
        if (auto e = field.value().get(child)) return e;
        if (auto e = find_big_numbers(child, base, depth + 1, out)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      od::array arr;
      if (auto e = v.get_array().get(arr)) return e;
      for (auto element : arr) {
        od::value child;
        if (auto e = element.get(child)) return e;
        if (auto e = find_big_numbers(child, base, depth + 1, out)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::number: {
      std::string_view raw = v.raw_json_token();
      while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' ||
                              raw.back() == '\t')) {
        raw.remove_suffix(1);
      }
      od::number n;
      const auto e = v.get_number().get(n);
      // simdjson 3.0 reads no integer past 64 bits. Anything else that fails (1e400, 01) is not a
      // number we can read.
      if (e && is_big_integer(raw)) {
        out.emplace_back(static_cast<size_t>(raw.data() - base), raw.size());
        return simdjson::SUCCESS;
      }
      return e;
    }
    default:
      return simdjson::SUCCESS;  // strings, booleans and null need no rewriting
  }
}

}  // namespace

simdjson::error_code parse_document(simdjson::dom::parser& parser, std::string_view json,
                                    std::string& scratch, simdjson::dom::element& out) {
  auto err = parser.parse(json.data(), json.size()).get(out);
  if (err != simdjson::NUMBER_ERROR) return err;
  thread_local od::parser od_parser;
  const simdjson::padded_string padded(json);
  od::document doc;
  if (auto e = od_parser.iterate(padded).get(doc)) return e;
  std::vector<std::pair<size_t, size_t>> big;
  od::object obj;
  if (doc.get_object().get(obj)) return err;  // only objects are documents
  for (auto field : obj) {
    od::value child;
    if (auto e = field.value().get(child)) return e;
    if (auto e = find_big_numbers(child, padded.data(), 1, big)) return e;
  }
  if (big.empty()) return err;
  scratch.clear();
  scratch.reserve(json.size() + 2 * big.size());
  size_t at = 0;
  for (const auto& [from, len] : big) {
    scratch.append(json.substr(at, from - at));
    scratch += '"';
    scratch.append(json.substr(from, len));
    scratch += '"';
    at = from + len;
  }
  scratch.append(json.substr(at));
  return parser.parse(scratch).get(out);
}

bool finite_number(std::string_view json, double& out) {
  const auto [end, ec] = std::from_chars(json.data(), json.data() + json.size(), out);
  if (ec == std::errc::result_out_of_range) {
    // Denormals (4e-320) parse with ERANGE on some standard libraries; strtod gives the value.
    if (!json_number_syntax(json)) return false;
    const std::string copy(json);
    out = std::strtod(copy.c_str(), nullptr);
  } else if (ec != std::errc() || end != json.data() + json.size()) {
    return false;
  }
  return std::isfinite(out);
}

LabelOutcome label_outcome(const FoundValue& predicted, const FoundValue& truth) {
  LabelOutcome o;
  if (!truth.found() || !predicted.found()) return o;
  if (truth.is_number() && predicted.is_number()) {
    double p = 0, t = 0;
    if (finite_number(predicted.json, p) && finite_number(truth.json, t) && std::isfinite(p - t)) {
      o.has_error = true;
      o.error = p - t;
    }
  } else if (!truth.is_number() && !predicted.is_number()) {
    o.has_correct = true;
    o.correct = truth.json == predicted.json;
  }
  return o;
}

}  // namespace verity::document
