/* agentd's command line: actions and the flags that override the config. */
#ifndef AGENTD_CLI_H
#define AGENTD_CLI_H

#include "config.h"

struct agentd_cli {
    const char *config_path; /* --config; NULL: the embedded defaults */
    bool check_config;       /* validate, exit 0 or 2 */
    bool print_config;       /* print the effective config, exit */
    bool emit_rules;         /* write the alert rules for Prometheus, exit */
    const char *rules_path;  /* --emit-prometheus-rules=FILE; NULL: stdout */
    bool quiet;
};

/*
 * Builds the effective config: defaults, then --config's file, then the
 * other flags. Prints --help/--version and exits 0; on a bad flag or a bad
 * file prints why (file errors as FILE:LINE:COL: key 'x.y': why) and exits
 * 2. The config is the caller's (agentd_config_close).
 */
void agentd_cli_parse(int argc, char **argv, struct agentd_config *c, struct agentd_cli *cli);

#endif
