#include "verity/quality/aggregate_keys.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

namespace verity::quality {
namespace {

int tail_bin(double u) {  // u in (0, 0.01)
  return std::clamp(static_cast<int>(std::floor((std::log10(u) + 12) * 100)), 0, kTailBins - 1);
}

}  // namespace

int score_bin(double s) {
  if (!(s > 0)) return 0;
  if (s < 0.01) return tail_bin(s);
  if (s < 0.99) {
    return kTailBins +
           std::clamp(static_cast<int>(std::floor((s - 0.01) * 1000)), 0, kMiddleBins - 1);
  }
  const double u = 1 - s;
  if (!(u > 0)) return kScoreBins - 1;
  return kScoreBins - 1 - tail_bin(u);
}

double score_bin_lower_bound(int b) {
  if (b <= 0) return 0;
  if (b < kTailBins) return std::pow(10.0, b / 100.0 - 12);
  if (b < kTailBins + kMiddleBins) return 0.01 + (b - kTailBins) / 1000.0;
  if (b >= kScoreBins) return 1;
  const int j = kScoreBins - 1 - b;  // the bin of 1 - s in the lower tail
  return 1 - std::pow(10.0, (j + 1) / 100.0 - 12);
}

int calibration_bin(double p) {
  int b = 0;
  for (int i = 1; i < kCalibrationBins; ++i) b += (i * (1.0 / kCalibrationBins)) < p;
  return b;
}

const std::vector<double> kLagBoundsSeconds = {
    60, 300, 900, 3600, 21600, 86400, 3 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 90 * 86400};

std::string_view numeric_bucket(double x, std::array<char, 16>& buf) {
  if (std::fabs(x) < 1e-9) return "z";
  const int i = static_cast<int>(std::floor(std::log(std::fabs(x)) / std::log(kBucketBase)));
  buf[0] = x > 0 ? 'p' : 'n';
  const auto end = std::to_chars(buf.data() + 1, buf.data() + buf.size(), i).ptr;
  return {buf.data(), static_cast<size_t>(end - buf.data())};
}

double bucket_value(std::string_view b) {
  if (b.empty() || b == "z") return 0;
  const double i = std::strtod(std::string(b.substr(1)).c_str(), nullptr);
  return b[0] == 'p' ? std::pow(kBucketBase, i) : -std::pow(kBucketBase, i + 1);
}

}  // namespace verity::quality
