/*
 * libFuzzer harness: the AgentRequest scan against the jansson-based
 * parser it replaced (request_oracle.h), and the raw JSON scan against
 * json_loadb(JSON_DECODE_ANY | JSON_REJECT_DUPLICATES). Built only when
 * clang is found: `cmake --build --preset release --target
 * fuzz_agent_request`, then `build/tests/fuzz_agent_request
 * -max_total_time=60 tests/runtime/agent/corpus`. Any disagreement aborts
 * with both verdicts printed. Each input is a fresh heap copy of exactly
 * its size, so ASan catches a read past the end of the body.
 */
#include "request_oracle.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>

/* AC_ASSERT's target, from base (not linked here). */
_Noreturn void ac__panic(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[1024];
    char *p = malloc(size ? size : 1);
    struct ac__json_result res;
    if (!p)
        return 0;
    memcpy(p, data, size);
    if (request_differs(p, size, why, sizeof why)) {
        fprintf(stderr, "request verdicts differ: %s\n", why);
        abort();
    }
    json_t *j = memchr(p, 0, size)
                    ? NULL
                    : json_loadb(p, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    if ((ac__json_scan(p, size, NULL, NULL, &res) == 0) != (j != NULL)) {
        fprintf(stderr, "raw scan differs: jansson %s, scan %s\n", j ? "accepts" : "refuses",
                j ? res.error : "accepts");
        abort();
    }
    json_decref(j);
    free(p);
    return 0;
}
