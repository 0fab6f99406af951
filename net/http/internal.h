/*
 * Private declarations of the HTTP files (http_parse.c, http_chunked.c,
 * http_errors.c, http_response.c). Kept apart from net/internal.h, which
 * is the io_uring seam's, so neither drags in the other's headers.
 */
#ifndef AC_NET_HTTP_INTERNAL_H
#define AC_NET_HTTP_INTERNAL_H

#include "agentcore/http.h"

#include <http_parser.h>

/* Every way a request can be refused; rows of ac__http_errors. */
enum ac_http_err {
    AC_HTTP_E_BAD_REQUEST_LINE,
    AC_HTTP_E_BAD_METHOD,
    AC_HTTP_E_METHOD_NOT_IMPLEMENTED,
    AC_HTTP_E_BAD_TARGET,
    AC_HTTP_E_BAD_VERSION,
    AC_HTTP_E_VERSION_NOT_SUPPORTED,
    AC_HTTP_E_BARE_LF,
    AC_HTTP_E_BARE_CR,
    AC_HTTP_E_BAD_CHARACTER,
    AC_HTTP_E_OBS_FOLD,
    AC_HTTP_E_BAD_HEADER_NAME,
    AC_HTTP_E_BAD_HEADER,
    AC_HTTP_E_HEAD_TOO_LARGE,
    AC_HTTP_E_TOO_MANY_HEADERS,
    AC_HTTP_E_BAD_HOST,
    AC_HTTP_E_BAD_CONTENT_LENGTH,
    AC_HTTP_E_DUPLICATE_CONTENT_LENGTH,
    AC_HTTP_E_CONFLICTING_FRAMING,
    AC_HTTP_E_BAD_TRANSFER_ENCODING,
    AC_HTTP_E_UNSUPPORTED_TRANSFER_ENCODING,
    AC_HTTP_E_BAD_CHUNK_SIZE,
    AC_HTTP_E_BAD_CHUNK,
    AC_HTTP_E_BODY_TOO_LARGE,
    AC_HTTP_E_EXPECTATION_FAILED,
    AC_HTTP_E_NO_MEMORY,
    AC_HTTP_E_COUNT
};

extern const struct ac_http_error ac__http_errors[AC_HTTP_E_COUNT];

/* Scanner of CRLF-terminated lines (head, chunk trailers): strict line ends. */
struct ac_http_lines {
    size_t bytes;      /* bytes scanned in this section */
    unsigned lines;    /* non-empty lines seen */
    unsigned line_len; /* bytes of the current line so far */
    bool expect_lf;    /* last byte was CR */
};

/*
 * Scans data[0..len) as CRLF lines until an empty line. With `head`, empty
 * lines before the first non-empty one are skipped (RFC 9112 §2.2 lets a
 * server ignore them before a request line); for trailers the first empty
 * line ends the section. Returns the bytes used (up to and including that empty
 * line's LF when found: *end is then true), or -1 with *err set.
 * Limits: `max_bytes` for the section, `max_lines` non-empty lines.
 */
long ac__http_lines_scan(struct ac_http_lines *s, const char *data, size_t len, size_t max_bytes,
                         unsigned max_lines, bool head, bool *end, enum ac_http_err *err);

/* De-chunking state (RFC 9112 §7.1). */
struct ac_http_chunked {
    enum {
        AC_CH_SIZE,     /* hex digits of the size */
        AC_CH_EXT,      /* ";ext" up to CR */
        AC_CH_SIZE_LF,  /* LF after the size line's CR */
        AC_CH_DATA,     /* `left` data bytes */
        AC_CH_DATA_CR,  /* CR after the data */
        AC_CH_DATA_LF,  /* LF after the data */
        AC_CH_TRAILERS, /* trailer section after the last chunk */
    } state;
    unsigned digits;  /* hex digits of the size so far */
    unsigned ext_len; /* bytes of chunk extensions on this line */
    uint64_t size, left;
    uint64_t total; /* sum of the chunk sizes so far */
    struct ac_http_lines trailers;
};

/* Receives body bytes; returns false (with *err set) to stop parsing. */
typedef bool (*ac_http_body_fn)(void *arg, const char *p, size_t n, enum ac_http_err *err);

/*
 * Decodes chunked framing from data[0..len). Returns the bytes used and
 * sets *done when the body and its trailers ended; -1 with *err on
 * malformed framing or when `body` refused a piece. Trailers are checked
 * like header lines (within max_head / max_headers) and dropped.
 */
long ac__http_chunked_feed(struct ac_http_chunked *c, const char *data, size_t len,
                           const struct ac_http_limits *lim, ac_http_body_fn body, void *arg,
                           bool *done, enum ac_http_err *err);

#endif
