/* ac_strerror: errno text without touching the thread's errno. */
#include "agentcore/base.h"

#include <string.h>

const char *ac_strerror(int err)
{
    if (err > 0)
        err = -err;
    if (err == 0)
        return "success";
    /* strerrordesc_np is static, thread-safe text (glibc ≥ 2.32). */
    const char *s = strerrordesc_np(-err);
    return s ? s : "unknown error";
}
