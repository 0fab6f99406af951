/*
 * agentd's privilege drop: started as root, it binds its listeners and
 * then runs as an unprivileged user (--user, or the config's server.user).
 */
#ifndef AGENTD_PRIVS_H
#define AGENTD_PRIVS_H

#include <stdbool.h>
#include <sys/types.h>

/* The user to become: resolved once at start-up, before any thread runs. */
struct agentd_user {
    const char *name; /* NULL: none configured */
    uid_t uid;
    gid_t gid;
};

/*
 * Resolves `name` (NULL: none) into *u. Returns 0, or -ENOENT for an
 * unknown user (or another -errno of getpwnam_r), -EPERM for a name other
 * than the current user's while not root.
 */
int agentd_user_resolve(const char *name, struct agentd_user *u);

/*
 * Becomes u's user after the listeners are bound: supplementary groups
 * to u's primary group only, then the gid, then the uid (in this order:
 * after setuid nothing else may change), and verifies that root cannot
 * be regained. No user configured: 0, nothing done (as root, a warning
 * is logged: the process keeps every privilege). Returns 0 or -errno
 * (-EPERM also when the verification fails). glibc applies each change to
 * every thread, so any one thread may call it, once every shard has bound.
 */
int agentd_privs_drop(const struct agentd_user *u);

#endif
