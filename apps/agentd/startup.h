/* agentd before the runtime runs: command line, config, one-shot actions, log. */
#ifndef AGENTD_STARTUP_H
#define AGENTD_STARTUP_H

#include "cli.h"

/*
 * Parses the command line into `c` and `cli`, runs --check-config,
 * --print-config and --emit-prometheus-rules, sets the log level and file.
 * Returns an exit status when agentd is done (0 after an action, 2 for
 * bad input), or -1 to go on and serve.
 */
int agentd_startup(int argc, char **argv, struct agentd_config *c, struct agentd_cli *cli);

#endif
