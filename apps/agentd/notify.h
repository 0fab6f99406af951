/*
 * systemd readiness (Type=notify, see configs/agentd.service) through
 * libsystemd's sd_notify. Without NOTIFY_SOCKET in the environment both
 * calls do nothing. Any thread; each message is sent at most once.
 */
#ifndef AGENTD_NOTIFY_H
#define AGENTD_NOTIFY_H

/* READY=1: every shard serves. */
void agentd_notify_ready(unsigned nshards);

/* STOPPING=1: draining began. */
void agentd_notify_stopping(void);

#endif
