#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "verity/core/http.h"
#include "verity/core/sha256.h"

namespace verity::app {

// What a caller may do. admin implies the others.
enum Role : uint8_t { kRoleIngest = 1, kRoleRead = 2, kRoleAdmin = 4 };

// One credential from config: a bearer token (`Authorization: Bearer <token>`) or a user with a
// password for clients that only speak basic auth (Elasticsearch clients, Filebeat).
struct Credential {
  std::string name;      // for logs and 403 messages; never the secret
  std::string token;     // bearer token, or
  std::string user;      // basic-auth user name and
  std::string password;  //   password
  uint8_t roles = 0;
};

// Checks requests against the configured credentials. Secrets are kept only as SHA-256 digests
// and compared in constant time; nothing secret is ever logged or echoed. With no credentials
// configured every request is allowed (listeners then bind to loopback only, see Server).
// A browser's request that changes data (not GET or HEAD) sent from another site: its
// `Sec-Fetch-Site` is cross-site or same-site, or its `Origin` is not this server's `Host`. The 403
// to answer, or nullopt (also for every non-browser client, which sends neither header). Guards
// against a page elsewhere making a signed-in browser, or one next to a loopback server without
// authentication, erase, hold or ingest (cross-site request forgery).
std::optional<HttpResponse> cross_site_refusal(const HttpRequest& req);

class Authenticator {
 public:
  explicit Authenticator(const std::vector<Credential>& credentials);

  bool enabled() const { return !entries_.empty(); }
  // nullopt when the request may proceed; otherwise the 401 (no or unknown credentials, with
  // WWW-Authenticate: Bearer when tokens are configured, Basic when users are, so that a browser
  // asks for a user and password; Basic not for a caller that sent a bearer token) or 403 (a
  // known caller without `role`, or cross_site_refusal's, checked first and also when
  // authentication is off) to answer.
  std::optional<HttpResponse> check(const HttpRequest& req, Role role) const;
  // The credential name of the caller, for audit entries ("anonymous (authentication off)" when
  // authentication is off).
  std::string principal(const HttpRequest& req) const;

 private:
  struct Entry {
    std::string name;
    Sha256Digest digest;  // of "Bearer <token>" or "Basic <user>:<password>"
    uint8_t roles;
  };
  std::vector<Entry> entries_;
  bool has_tokens_ = false, has_users_ = false;
  const Entry* identify(const HttpRequest& req, std::string* problem) const;
};

// Parses "ingest", "read", "admin". nullopt for anything else.
std::optional<Role> parse_role(std::string_view name);

}  // namespace verity::app
