#include "prediction_generator.h"

#include <algorithm>
#include <cstdio>

#include "verity/core/time_format.h"

namespace verity::bench {

PredictionGenerator::PredictionGenerator(uint64_t seed, int64_t start_ms, int64_t max_step_ms)
    : state_(seed),
      ts_(start_ms),
      max_step_(static_cast<uint64_t>(std::max<int64_t>(max_step_ms, 1))) {}

uint64_t PredictionGenerator::rand() {  // splitmix64
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void PredictionGenerator::next(std::string& out, const std::string& id_prefix) {
  static constexpr const char* kModels[] = {"fraud-detector", "churn", "credit-risk"};
  static constexpr const char* kCountries[] = {"DE", "FR", "US", "GB", "NL", "ES", "IT", "PL"};
  static constexpr const char* kChannels[] = {"web", "mobile", "pos", "api"};
  static constexpr const char* kMerchants[] = {"grocery", "travel", "electronics", "fashion",
                                               "gaming"};
  ts_ += static_cast<int64_t>(rand() % max_step_);
  const uint64_t n = n_++;
  const char* model = kModels[n % 3];
  const double amount = 5 + uniform() * 2000;
  const double p = uniform();
  const double conf = p > 0.5 ? p : 1 - p;
  const uint64_t user = rand() % 5'000'000;
  // A Visa-shaped, Luhn-valid card number (what real logs leak).
  char card[17];
  std::snprintf(card, sizeof card, "4%014llu",
                static_cast<unsigned long long>(rand() % 100'000'000'000'000ull));
  int sum = 0;
  for (int i = 14; i >= 0; --i) {
    int d = card[i] - '0';
    if ((14 - i) % 2 == 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  card[15] = static_cast<char>('0' + (10 - sum % 10) % 10);
  card[16] = '\0';
  char buf[2048];
  const int len = std::snprintf(
      buf, sizeof buf,
      R"({"request_id":"%s%llu","@timestamp":"%s","model":{"name":"%s","version":"v%llu.%llu"},)"
      R"("user_id":"u-%llu","customer":{"email":"user%llu@example.com","card_number":"%s","country":"%s"},)"
      R"("input_features":{"amount":%.2f,"currency":"EUR","channel":"%s","merchant_category":"%s",)"
      R"("account_age_days":%llu,"txn_count_24h":%llu,"avg_amount_30d":%.2f,"device":{"os":"%s","trusted":%s}},)"
      R"("prediction":{"label":"%s","score":%.4f,"probabilities":{"fraud":%.4f,"legit":%.4f}},)"
      R"("confidence":%.4f,"latency_ms":%.2f,)"
      R"("explanations":{"method":"shap","feature_importances":{"amount":%.4f,"channel":%.4f,)"
      R"("account_age_days":%.4f,"txn_count_24h":%.4f,"merchant_category":%.4f}}})",
      id_prefix.c_str(), static_cast<unsigned long long>(n), format_rfc3339(ts_).c_str(), model,
      static_cast<unsigned long long>(1 + n % 4), static_cast<unsigned long long>(rand() % 10),
      static_cast<unsigned long long>(user), static_cast<unsigned long long>(user), card,
      kCountries[rand() % 8], amount, kChannels[rand() % 4], kMerchants[rand() % 5],
      static_cast<unsigned long long>(rand() % 3650), static_cast<unsigned long long>(rand() % 40),
      uniform() * 500, (rand() & 1) ? "android" : "ios", (rand() & 1) ? "true" : "false",
      p > 0.5 ? "fraud" : "legit", p, p, 1 - p, conf, 1 + uniform() * 30, uniform() * 0.5,
      uniform() * 0.2, uniform() * 0.2, uniform() * 0.1, uniform() * 0.1);
  out.append(buf, static_cast<size_t>(len));
}

}  // namespace verity::bench
