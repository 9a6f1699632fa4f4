// OpenAI-shaped errors: the one exception type handlers throw, and the one function
// that turns any exception into a status and an `{"error": {...}}` body.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace ts::server {

class ApiError : public std::runtime_error {
 public:
  // type defaults from the status (invalid_request_error, authentication_error, ...).
  ApiError(int status, const std::string& message, std::string param = {}, std::string code = {},
           std::string type = {});
  int status;
  std::string param;  // empty = null
  std::string code;   // empty = null
  std::string type;
  int retry_after_s = 0;  // > 0: send Retry-After
};

ApiError BadRequest(const std::string& message, const std::string& param = {},
                    const std::string& code = {});

// Returns {"error": {"message", "type", "param", "code"}}.
nlohmann::json ErrorBody(const ApiError& error);

// Returns the ApiError for any exception: ApiError as is, the engine's QueueFullError as
// 503 + Retry-After, InvalidRequestError as 400 with its param/code, anything else 500.
ApiError ToApiError(std::exception_ptr error);

// The error object's type for a status ("invalid_request_error", "authentication_error",
// "not_found_error", "rate_limit_error", "server_error", ...).
const char* ErrorTypeForStatus(int status);

// json::dump that never throws on invalid UTF-8 (replaced by U+FFFD): model output may be
// cut mid-character in logprob pieces.
std::string DumpJson(const nlohmann::json& value);

}  // namespace ts::server
