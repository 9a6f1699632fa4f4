// Reading a request body within a size limit, whatever its framing: Content-Length, chunked,
// or compressed (httplib decodes gzip/deflate/br; the limit applies to the decoded bytes, so a
// small compressed body cannot expand into gigabytes).
#pragma once

#include <httplib.h>

#include <cstddef>
#include <string>

namespace ts::server {

// Returns the body. A request with neither Content-Length nor chunked framing has an empty
// body (RFC 9112), so nothing is read for it. Throws ApiError: 413 when the declared or
// received size exceeds max_bytes (checked before reading where the size is declared), 400 for
// an invalid Content-Length or a body that cannot be read or decoded.
std::string ReadRequestBody(const httplib::Request& req, const httplib::ContentReader& reader,
                            size_t max_bytes);

}  // namespace ts::server
