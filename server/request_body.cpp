#include "server/request_body.h"

#include <algorithm>
#include <cctype>

#include "server/api_error.h"

namespace ts::server {
namespace {

ApiError TooLarge(size_t max_bytes) {
  return ApiError(413,
                  "the request body is larger than the server's limit of " +
                      std::to_string(max_bytes) + " bytes",
                  {}, {}, "invalid_request_error");
}

bool IsChunked(const httplib::Request& req) {
  std::string value = req.get_header_value("Transfer-Encoding");
  std::transform(value.begin(), value.end(), value.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return value.find("chunked") != std::string::npos;
}

}  // namespace

std::string ReadRequestBody(const httplib::Request& req, const httplib::ContentReader& reader,
                            size_t max_bytes) {
  const bool chunked = IsChunked(req);
  if (!chunked && req.has_header("Content-Length")) {
    const std::string value = req.get_header_value("Content-Length");
    const bool digits =
        !value.empty() && value.size() <= 19 &&
        std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); });
    if (!digits) throw BadRequest("invalid Content-Length header '" + value + "'");
    if (std::stoull(value) > max_bytes) throw TooLarge(max_bytes);
  } else if (!chunked) {
    return {};
  }
  std::string body;
  bool too_large = false;
  const bool complete = reader([&](const char* data, size_t length) {
    if (body.size() + length > max_bytes) {
      too_large = true;
      return false;
    }
    body.append(data, length);
    return true;
  });
  if (too_large) throw TooLarge(max_bytes);
  if (!complete) throw BadRequest("the request body could not be read or decoded");
  return body;
}

}  // namespace ts::server
