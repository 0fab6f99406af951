/*
 * Privilege drop (see privs.h). The user is looked up before the runtime
 * starts (NSS may load modules and open files: not something to do in a
 * shard); the drop itself is three syscalls and a check.
 */
#include "privs.h"

#include "agentcore/base.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

int agentd_user_resolve(const char *name, struct agentd_user *u)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    *u = (struct agentd_user){0};
    if (!name)
        return 0;
    int err = getpwnam_r(name, &pw, buf, sizeof buf, &res);
    if (err)
        return -err;
    if (!res)
        return -ENOENT;
    if (geteuid() != 0 && geteuid() != pw.pw_uid)
        return -EPERM;
    u->name = name;
    u->uid = pw.pw_uid;
    u->gid = pw.pw_gid;
    return 0;
}

int agentd_privs_drop(const struct agentd_user *u)
{
    if (!u->name) {
        if (geteuid() == 0)
            ac_log_warn("agentd: running as root with no --user (server.user): every "
                        "privilege is kept; name an unprivileged user to drop them");
        return 0;
    }
    if (geteuid() == u->uid && getegid() == u->gid && geteuid() != 0)
        return 0;
    if (setgroups(1, &u->gid) != 0 || setgid(u->gid) != 0 || setuid(u->uid) != 0)
        return -errno;
    /* verify: a uid other than 0 must not get root back */
    if (u->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
        return -EPERM;
    if (getuid() != u->uid || geteuid() != u->uid || getgid() != u->gid || getegid() != u->gid)
        return -EPERM;
    ac_log_info("agentd: running as %s (uid %u, gid %u)", u->name, (unsigned)u->uid,
                (unsigned)u->gid);
    return 0;
}
