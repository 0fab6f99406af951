/*
 * agentd's capability report: `--capabilities` (print what this host
 * allows, then exit; cli.c) and the one capability line at start. The
 * backend itself is chosen by --backend / scheduler.io_backend (cli.c,
 * keys.c) through ac_runtime_config.backend.
 */
#include "backend.h"

#include <stdio.h>
#include <stdlib.h>

int agentd_capabilities_print(void)
{
    struct ac_capabilities c;
    ac_capabilities_probe(&c);
    size_t n = ac_capabilities_report(&c, NULL, 0) + 1;
    char *buf = malloc(n);
    if (!buf)
        return 1;
    ac_capabilities_report(&c, buf, n);
    fputs(buf, stdout);
    free(buf);
    return 0;
}

void agentd_capabilities_line(enum ac_ring_backend in_use)
{
    struct ac_capabilities c;
    char line[256];
    ac_capabilities_probe(&c);
    c.backend = in_use;
    ac_capabilities_summary(&c, line, sizeof line);
    ac_log_info("capabilities: %s", line);
}
