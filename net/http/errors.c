/*
 * The refusals the parser can report: status, a stable machine-readable
 * code (clients and tests match on it; never rename one) and a message.
 * 431 covers the whole head, request line included, as the issue asks
 * (RFC 9110 would also allow 414 for a long target).
 */
#include "internal.h"

#define E(id, st, c, m) [AC_HTTP_E_##id] = {.status = st, .code = c, .message = m}

const struct ac_http_error ac__http_errors[AC_HTTP_E_COUNT] = {
    E(BAD_REQUEST_LINE, 400, "bad_request_line", "malformed request line"),
    E(BAD_METHOD, 400, "bad_method", "malformed method"),
    E(METHOD_NOT_IMPLEMENTED, 501, "method_not_implemented", "method not implemented"),
    E(BAD_TARGET, 400, "bad_target", "malformed request target"),
    E(BAD_VERSION, 400, "bad_version", "malformed HTTP version"),
    E(VERSION_NOT_SUPPORTED, 505, "version_not_supported", "only HTTP/1.0 and HTTP/1.1"),
    E(BARE_LF, 400, "bare_lf", "line ends with LF without CR"),
    E(BARE_CR, 400, "bare_cr", "CR not followed by LF"),
    E(BAD_CHARACTER, 400, "bad_character", "control character in request head"),
    E(OBS_FOLD, 400, "obs_fold", "obsolete header line folding"),
    E(BAD_HEADER_NAME, 400, "bad_header_name", "invalid header field name"),
    E(BAD_HEADER, 400, "bad_header", "malformed header field"),
    E(HEAD_TOO_LARGE, 431, "header_too_large", "request line and headers too large"),
    E(TOO_MANY_HEADERS, 431, "too_many_headers", "too many header fields"),
    E(BAD_HOST, 400, "bad_host", "HTTP/1.1 needs exactly one Host header"),
    E(BAD_CONTENT_LENGTH, 400, "bad_content_length", "invalid Content-Length"),
    E(DUPLICATE_CONTENT_LENGTH, 400, "duplicate_content_length", "more than one Content-Length"),
    E(CONFLICTING_FRAMING, 400, "conflicting_framing", "both Content-Length and Transfer-Encoding"),
    E(BAD_TRANSFER_ENCODING, 400, "bad_transfer_encoding", "invalid Transfer-Encoding"),
    E(UNSUPPORTED_TRANSFER_ENCODING, 501, "unsupported_transfer_encoding",
      "only Transfer-Encoding: chunked is supported"),
    E(BAD_CHUNK_SIZE, 400, "bad_chunk_size", "invalid chunk size"),
    E(BAD_CHUNK, 400, "bad_chunk", "malformed chunked body"),
    E(BODY_TOO_LARGE, 413, "body_too_large", "request body too large"),
    E(EXPECTATION_FAILED, 417, "expectation_failed", "only Expect: 100-continue is supported"),
    E(NO_MEMORY, 503, "out_of_memory", "no memory for the request"),
};
