/*
 * libFuzzer target: agentd's YAML config loader (apps/agentd/config.c and
 * friends) on arbitrary bytes, through the file path it really takes (a
 * memfd named by /proc/self/fd). Checked per input: no crash or leak
 * (ASan/LSan); a refused file (-EINVAL) says why in at least one
 * "FILE:LINE:COL: ..." line; an accepted one maps to the libraries'
 * settings and prints without failing.
 */
#include "config.h"

#include <errno.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int memfd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memfd < 0) {
        memfd = memfd_create("agentd-config", MFD_CLOEXEC);
        if (memfd < 0)
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
    }
    if (ftruncate(memfd, 0) || (size && pwrite(memfd, data, size, 0) != (ssize_t)size))
        abort();
    static char diag[1 << 16];
    memset(diag, 0, sizeof diag);
    FILE *d = fmemopen(diag, sizeof diag - 1, "w");
    if (!d)
        abort();
    struct agentd_config c;
    agentd_config_init(&c);
    int err = agentd_config_load(&c, path, d);
    fclose(d);
    if (err == -EINVAL && !strstr(diag, path)) {
        fprintf(stderr, "refused without a positioned reason: \"%s\"\n", diag);
        abort();
    }
    if (err == 0) {
        struct agentd_settings s;
        agentd_settings_from_config(&c, &s);
        agentd_settings_for_shards(&c, 2, &s);
        FILE *out = fopen("/dev/null", "w");
        if (!out)
            abort();
        agentd_config_print(&c, out);
        fclose(out);
    } else if (err != -EINVAL) {
        abort(); /* the memfd is always readable */
    }
    agentd_config_close(&c);
    return 0;
}
