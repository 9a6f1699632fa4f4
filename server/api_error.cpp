#include "server/api_error.h"

#include "engine/engine.h"

namespace ts::server {

const char* ErrorTypeForStatus(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 429: return "rate_limit_error";
    case 503: return "service_unavailable_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

ApiError::ApiError(int status_in, const std::string& message, std::string param_in,
                   std::string code_in, std::string type_in)
    : std::runtime_error(message),
      status(status_in),
      param(std::move(param_in)),
      code(std::move(code_in)),
      type(type_in.empty() ? ErrorTypeForStatus(status_in) : std::move(type_in)) {}

ApiError BadRequest(const std::string& message, const std::string& param, const std::string& code) {
  return ApiError(400, message, param, code);
}

nlohmann::json ErrorBody(const ApiError& error) {
  nlohmann::json body = {{"message", error.what()}, {"type", error.type}};
  body["param"] = error.param.empty() ? nlohmann::json(nullptr) : nlohmann::json(error.param);
  body["code"] = error.code.empty() ? nlohmann::json(nullptr) : nlohmann::json(error.code);
  return {{"error", body}};
}

ApiError ToApiError(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const ApiError& e) {
    return e;
  } catch (const QueueFullError& e) {
    ApiError out(503, std::string("server busy: ") + e.what(), {}, "queue_full");
    out.retry_after_s = 1;
    return out;
  } catch (const InvalidRequestError& e) {
    return ApiError(400, e.what(), e.param, e.code);
  } catch (const nlohmann::json::exception& e) {
    return ApiError(400, std::string("invalid request: ") + e.what());
  } catch (const std::exception& e) {
    return ApiError(500, std::string("internal error: ") + e.what());
  } catch (...) {
    return ApiError(500, "internal error");
  }
}

std::string DumpJson(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ts::server
