/* agentd: the --capabilities report and the start-up capability line. */
#ifndef AGENTD_BACKEND_H
#define AGENTD_BACKEND_H

#include "agentcore.h"

/* Prints the capability report to stdout; the process exit status. */
int agentd_capabilities_print(void);

/* Logs one line summing up the capabilities, with the backend in use (at start). */
void agentd_capabilities_line(enum ac_ring_backend in_use);

#endif
