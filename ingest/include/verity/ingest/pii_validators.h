#pragma once

#include <string_view>

namespace verity::ingest {

// Validators that turn a detector's pattern match into a decision. Separators (' ' and '-') inside
// card numbers and IBANs are ignored. All are pure functions, safe from any thread.

// Luhn checksum over the digits of `s` (separators skipped). False on any other character.
bool luhn_valid(std::string_view s);
// A payment card number: 13..19 digits starting with 2..6 (the major networks' ranges) and
// Luhn-valid.
bool card_number_valid(std::string_view s);
// ISO 13616 IBAN: country letters, check digits, 11..30 alphanumerics, mod-97 == 1.
bool iban_valid(std::string_view s);
// US SSN "AAA-GG-SSSS": area not 000, 666 or 9xx; group not 00; serial not 0000.
bool ssn_valid(std::string_view s);
// Dotted-quad IPv4 with octets 0..255 and no leading zeros beyond a single 0.
bool ipv4_valid(std::string_view s);
// IPv6 text form (inet_pton), including "::" forms.
bool ipv6_valid(std::string_view s);

}  // namespace verity::ingest
