#include "verity/app/http_client.h"

namespace verity::app {

Result<HttpClientResponse> http_request(const std::string& method, const std::string& url,
                                        const std::string& body,
                                        const std::vector<std::string>& headers, long timeout_ms,
                                        const HttpTls* tls) {
  shippers::CurlHttpClient client(tls != nullptr ? *tls : HttpTls{});
  shippers::HttpCall call;
  call.method = method;
  call.url = url;
  call.body = body;
  call.headers = headers;
  call.timeout = Duration(timeout_ms);
  return client.send(call);
}

Result<HttpClientResponse> http_get(const std::string& url, long timeout_ms) {
  return http_request("GET", url, "", {}, timeout_ms);
}

std::string url_encode_segment(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace verity::app
