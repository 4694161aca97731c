#include "verity/app/auth.h"
#include "verity/document/json_writer.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace verity::app {

namespace {

// Decodes standard base64; nullopt when malformed.
std::optional<std::string> base64_decode(std::string_view in) {
  if (in.empty() || in.size() % 4 != 0 || in.size() > 4096) return std::nullopt;
  std::string out(in.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0) return std::nullopt;
  size_t len = static_cast<size_t>(n);
  if (in.back() == '=') --len;  // EVP_DecodeBlock counts padding as zero bytes
  if (in.size() >= 2 && in[in.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

// The challenges name the schemes configured. Basic is left out for a caller that presented a
// bearer token (a script or the console holding a wrong token): a browser shown a Basic challenge
// opens its password prompt, which cannot help such a caller.
HttpResponse unauthorized(const HttpRequest& req, std::string_view why, bool tokens, bool users) {
  HttpResponse r = document::error_response(
      401, "security_exception", std::string(why) + " for REST request [" + req.path + "]");
  const std::string_view presented = req.header("authorization");
  const bool bearer = presented.size() >= 7 &&
                      (presented.substr(0, 7) == "Bearer " || presented.substr(0, 7) == "bearer ");
  if (tokens || bearer || !users) {
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"verity\"");
  }
  if (users && !bearer) {
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"verity\" charset=\"UTF-8\"");
  }
  return r;
}

std::string_view role_name(Role r) {
  switch (r) {
    case kRoleIngest:
      return "ingest";
    case kRoleRead:
      return "read";
    case kRoleAdmin:
      return "admin";
  }
  return "?";
}

}  // namespace

std::optional<Role> parse_role(std::string_view name) {
  if (name == "ingest") return kRoleIngest;
  if (name == "read") return kRoleRead;
  if (name == "admin") return kRoleAdmin;
  return std::nullopt;
}

Authenticator::Authenticator(const std::vector<Credential>& credentials) {
  for (const auto& c : credentials) {
    const std::string presented =
        c.token.empty() ? "Basic " + c.user + ":" + c.password : "Bearer " + c.token;
    entries_.push_back(Entry{c.name, sha256(presented), c.roles});
    (c.token.empty() ? has_users_ : has_tokens_) = true;
  }
}

const Authenticator::Entry* Authenticator::identify(const HttpRequest& req,
                                                    std::string* problem) const {
  const std::string_view header = req.header("authorization");
  if (header.empty()) {
    *problem = "missing authentication credentials";
    return nullptr;
  }
  std::string presented;
  if (header.size() > 7 && (header.substr(0, 7) == "Bearer " || header.substr(0, 7) == "bearer ")) {
    presented = "Bearer " + std::string(header.substr(7));
  } else if (header.size() > 6 &&
             (header.substr(0, 6) == "Basic " || header.substr(0, 6) == "basic ")) {
    auto decoded = base64_decode(header.substr(6));
    if (!decoded || decoded->find(':') == std::string::npos) {
      *problem = "malformed basic authentication header";
      return nullptr;
    }
    presented = "Basic " + *decoded;
  } else {
    *problem = "unsupported authentication scheme (use Bearer or Basic)";
    return nullptr;
  }
  const Sha256Digest digest = sha256(presented);
  const Entry* who = nullptr;
  for (const auto& e : entries_) {  // no early exit: the time does not depend on which matched
    if (CRYPTO_memcmp(e.digest.data(), digest.data(), digest.size()) == 0) who = &e;
  }
  if (who == nullptr) *problem = "unable to authenticate";
  return who;
}

std::optional<HttpResponse> cross_site_refusal(const HttpRequest& req) {
  if (req.method == "GET" || req.method == "HEAD") return std::nullopt;
  // Browsers say where a request comes from; other clients (Filebeat, curl, Elasticsearch
  // clients) send neither header and are not affected.
  const std::string_view site = req.header("sec-fetch-site");
  bool foreign = site == "cross-site" || site == "same-site";
  const std::string_view origin = req.header("origin");
  if (!foreign && !origin.empty()) {
    const std::string_view host = req.header("host");
    const size_t scheme = origin.find("://");
    foreign = scheme == std::string_view::npos || host.empty() || origin.substr(scheme + 3) != host;
  }
  if (!foreign) return std::nullopt;
  return document::error_response(
      403, "cross_site_request",
      "a browser sent [" + req.method + " " + req.path +
          "] from another site: requests that change data are taken from this origin only");
}

std::optional<HttpResponse> Authenticator::check(const HttpRequest& req, Role role) const {
  // First, whether authentication is on or not: a page elsewhere must not make a browser (holding
  // Basic credentials, or on a loopback server without authentication) erase, hold or ingest.
  if (auto refused = cross_site_refusal(req)) return refused;
  if (!enabled()) return std::nullopt;
  std::string problem;
  const Entry* who = identify(req, &problem);
  if (who == nullptr) return unauthorized(req, problem, has_tokens_, has_users_);
  if ((who->roles & (role | kRoleAdmin)) == 0) {
    return document::error_response(403, "security_exception",
                                    "[" + who->name + "] lacks the " +
                                        std::string(role_name(role)) + " role needed for [" +
                                        req.method + " " + req.path + "]");
  }
  return std::nullopt;
}

std::string Authenticator::principal(const HttpRequest& req) const {
  if (!enabled()) return "anonymous (authentication off)";
  std::string problem;
  const Entry* who = identify(req, &problem);
  return who != nullptr ? who->name : "unknown";
}

}  // namespace verity::app
