#include "verity/shippers/http_client.h"

#include <openssl/evp.h>

#include <cctype>
#include <memory>

#include <curl/curl.h>

namespace verity::shippers {
namespace {

struct Sink {
  std::string* body;
  size_t limit;
};

size_t append_body(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  if (sink->body->size() + size * n > sink->limit) return 0;  // aborts the transfer
  sink->body->append(data, size * n);
  return size * n;
}

size_t header_line(char* data, size_t size, size_t n, void* user) {
  std::string_view line(data, size * n);
  const size_t colon = line.find(':');
  auto* headers = static_cast<std::vector<std::pair<std::string, std::string>>*>(user);
  if (colon != std::string_view::npos && headers->size() < 100) {
    std::string name(line.substr(0, colon));
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.remove_suffix(1);
    headers->emplace_back(std::move(name), value.substr(0, 8192));
  }
  return size * n;
}

}  // namespace

std::string_view HttpAnswer::header(std::string_view lowercase_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lowercase_name) return v;
  }
  return {};
}

struct CurlHttpClient::Impl {
  HttpTls tls;
  size_t max_answer_bytes;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl{curl_easy_init(), curl_easy_cleanup};
};

CurlHttpClient::CurlHttpClient(HttpTls tls, size_t max_answer_bytes)
    : impl_(new Impl{std::move(tls), max_answer_bytes}) {}

CurlHttpClient::~CurlHttpClient() { delete impl_; }

Result<HttpAnswer> CurlHttpClient::send(const HttpCall& call) {
  CURL* c = impl_->curl.get();
  if (c == nullptr) return Status::internal("curl_easy_init failed");
  curl_easy_reset(c);
  HttpAnswer answer;
  Sink sink{&answer.body, impl_->max_answer_bytes};
  curl_slist* list = nullptr;
  for (const auto& h : call.headers) list = curl_slist_append(list, h.c_str());
  // libcurl would send "Expect: 100-continue" for large bodies and wait for an answer first.
  list = curl_slist_append(list, "Expect:");
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> owner(list, curl_slist_free_all);
  curl_easy_setopt(c, CURLOPT_URL, call.url.c_str());
  if (call.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, call.method.c_str());
  }
  if (call.method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (!call.body.empty() || call.method == "POST" || call.method == "PUT") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, call.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call.body.size()));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_line);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &answer.headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(call.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   std::min<long>(5000L, static_cast<long>(call.timeout.count())));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  if (!impl_->tls.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, impl_->tls.ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, impl_->tls.verify_certificate ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, impl_->tls.verify_hostname ? 2L : 0L);
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    std::string why = call.url + ": " + curl_easy_strerror(rc);
    if (rc == CURLE_WRITE_ERROR) {
      why += " (the answer is larger than " + std::to_string(impl_->max_answer_bytes) + " bytes)";
    }
    return Status::unavailable(std::move(why));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &answer.status);
  return answer;
}

std::string basic_authorization(std::string_view user, std::string_view password) {
  std::string plain(user);
  plain += ':';
  plain += password;
  std::string out(4 * ((plain.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(plain.data()),
                                static_cast<int>(plain.size()));
  out.resize(static_cast<size_t>(n));
  return "Authorization: Basic " + out;
}

}  // namespace verity::shippers
