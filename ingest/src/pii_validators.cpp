#include "verity/ingest/pii_validators.h"

#include <arpa/inet.h>

#include <string>

namespace verity::ingest {

bool luhn_valid(std::string_view s) {
  int sum = 0, n = 0;
  for (size_t i = s.size(); i-- > 0;) {
    const char c = s[i];
    if (c == ' ' || c == '-') continue;
    if (c < '0' || c > '9') return false;
    int d = c - '0';
    if (n % 2 == 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    ++n;
  }
  return n > 0 && sum % 10 == 0;
}

bool card_number_valid(std::string_view s) {
  size_t digits = 0;
  char first = 0;
  for (char c : s) {
    if (c == ' ' || c == '-') continue;
    if (c < '0' || c > '9') return false;
    if (digits == 0) first = c;
    ++digits;
  }
  return digits >= 13 && digits <= 19 && first >= '2' && first <= '6' && luhn_valid(s);
}

bool iban_valid(std::string_view s) {
  std::string compact;
  for (char c : s) {
    if (c == ' ') continue;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
    compact += c;
  }
  if (compact.size() < 15 || compact.size() > 34) return false;
  if (compact[0] < 'A' || compact[0] > 'Z' || compact[1] < 'A' || compact[1] > 'Z') return false;
  if (compact[2] < '0' || compact[2] > '9' || compact[3] < '0' || compact[3] > '9') return false;
  // Move the first four characters to the end, letters become 10..35, then mod 97 incrementally.
  const std::string rearranged = compact.substr(4) + compact.substr(0, 4);
  int rem = 0;
  for (char c : rearranged) {
    if (c >= '0' && c <= '9') {
      rem = (rem * 10 + (c - '0')) % 97;
    } else {
      const int v = c - 'A' + 10;
      rem = (rem * 100 + v) % 97;
    }
  }
  return rem == 1;
}

bool ssn_valid(std::string_view s) {
  if (s.size() != 11 || s[3] != '-' || s[6] != '-') return false;
  for (size_t i : {0, 1, 2, 4, 5, 7, 8, 9, 10}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  const std::string_view area = s.substr(0, 3), group = s.substr(4, 2), serial = s.substr(7, 4);
  if (area == "000" || area == "666" || area[0] == '9') return false;
  return group != "00" && serial != "0000";
}

bool ipv4_valid(std::string_view s) {
  int parts = 0;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = i;
    int v = 0;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9' && j - i < 3) v = v * 10 + (s[j++] - '0');
    if (j == i || v > 255 || (j - i > 1 && s[i] == '0')) return false;
    ++parts;
    if (j == s.size()) return parts == 4;
    if (s[j] != '.' || parts == 4) return false;
    i = j + 1;
  }
  return false;
}

bool ipv6_valid(std::string_view s) {
  if (s.size() < 2 || s.size() > 45 || s.find(':') == std::string_view::npos) return false;
  const std::string text(s);
  in6_addr addr;
  return inet_pton(AF_INET6, text.c_str(), &addr) == 1;
}

}  // namespace verity::ingest
