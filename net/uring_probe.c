/*
 * What io_uring on this host allows, and if it is refused, why — in words
 * a user can act on. Causes, in the order they are told apart:
 *   - sysctl: kernel.io_uring_disabled is 2 (or 1 and we are not in
 *     io_uring_group): io_uring_setup fails with EPERM;
 *   - seccomp: a filter (Docker's and containerd's default profiles since
 *     2023) makes io_uring_setup fail with EPERM or ENOSYS;
 *   - old kernel: no io_uring at all (ENOSYS, < 5.1 or CONFIG_IO_URING=n),
 *     or a ring without an opcode the seam needs (MSG_RING is 5.18,
 *     provided-buffer rings 5.19).
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static int read_sysctl(void)
{
    FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
    int v = -1;
    if (!f)
        return -1;
    if (fscanf(f, "%d", &v) != 1)
        v = -1;
    fclose(f);
    return v;
}

static bool seccomp_filtered(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    bool filtered = false;
    if (!f)
        return false;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "Seccomp:", 8) == 0)
            filtered = atoi(line + 8) == 2;
    fclose(f);
    return filtered;
}

/* The opcodes every shard ring needs, with the kernel that brought them. */
static const struct {
    uint8_t op;
    const char *name, *since;
} needed[] = {
    {IORING_OP_MSG_RING, "MSG_RING", "5.18"},
    {IORING_OP_ACCEPT, "ACCEPT", "5.5"},
    {IORING_OP_RECV, "RECV", "5.6"},
    {IORING_OP_SEND, "SEND", "5.6"},
    {IORING_OP_SENDMSG, "SENDMSG", "5.3"},
    {IORING_OP_CONNECT, "CONNECT", "5.5"},
    {IORING_OP_CLOSE, "CLOSE", "5.6"},
    {IORING_OP_SHUTDOWN, "SHUTDOWN", "5.11"},
    {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL", "5.5"},
    {IORING_OP_READ, "READ", "5.6"},
};

static void probe_buf_ring(struct io_uring *u, struct ac_uring_probe *out)
{
    size_t len = 4096;
    void *br = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (br == MAP_FAILED)
        return;
    struct io_uring_buf_reg reg = {
        .ring_addr = (uint64_t)(uintptr_t)br, .ring_entries = 8, .bgid = 1};
    reg.pad = IOU_PBUF_RING_INC;
    if (io_uring_register_buf_ring(u, &reg, 0) == 0) {
        out->buf_ring = out->buf_ring_inc = true;
        io_uring_unregister_buf_ring(u, 1);
    } else {
        reg.pad = 0;
        if (io_uring_register_buf_ring(u, &reg, 0) == 0) {
            out->buf_ring = true;
            io_uring_unregister_buf_ring(u, 1);
        }
    }
    munmap(br, len);
}

static void probe_ring(struct ac_uring_probe *out)
{
    const uint32_t si = IORING_SETUP_SINGLE_ISSUER, dt = IORING_SETUP_DEFER_TASKRUN,
                   tf = IORING_SETUP_TASKRUN_FLAG, coop = IORING_SETUP_COOP_TASKRUN;
    const uint32_t sets[] = {si | dt | tf, si | coop | tf, coop | tf, 0};
    struct io_uring u;
    int ret = -EINVAL;
    bool want_sqpoll = out->sqpoll; /* the caller's request, see ac_uring_probe */

    out->sqpoll = false;
    for (size_t i = 0; i < AC_ARRAY_LEN(sets) && ret == -EINVAL; i++) {
        struct io_uring_params p = {.flags = sets[i]};
        ret = io_uring_queue_init_params(8, &u, &p);
        if (ret == 0)
            out->setup_flags = p.flags;
    }
    out->setup_err = ret;
    if (ret)
        return;
    struct io_uring_probe *probe = io_uring_get_probe_ring(&u);
    if (probe) {
        for (unsigned op = 0; op < AC_ARRAY_LEN(out->op); op++) {
            out->op[op] = io_uring_opcode_supported(probe, (int)op);
            out->nops += out->op[op];
        }
        io_uring_free_probe(probe);
    }
    probe_buf_ring(&u, out);
    out->registered_fd = io_uring_register_ring_fd(&u) == 1;
    io_uring_queue_exit(&u);
    if (!want_sqpoll)
        return;
    struct io_uring_params sp = {.flags = IORING_SETUP_SQPOLL, .sq_thread_idle = 10};
    out->sqpoll = io_uring_queue_init_params(8, &u, &sp) == 0;
    if (out->sqpoll)
        io_uring_queue_exit(&u);
}

static void *probe_thread(void *arg)
{
    probe_ring(arg);
    return NULL;
}

void ac_uring_probe(struct ac_uring_probe *out, bool with_sqpoll)
{
    memset(out, 0, sizeof *out);
    out->sqpoll = with_sqpoll; /* a request until probe_ring answers it */
    out->sysctl_disabled = read_sysctl();
    out->seccomp_filtered = seccomp_filtered();
    /*
     * The throw-away ring lives on a thread of its own: tearing a ring
     * down queues task work to the thread that made it, which interrupts
     * that thread's next blocking system call with EINTR (seen: a
     * caller's recv right after ac_runtime_create).
     */
    pthread_t t;
    if (pthread_create(&t, NULL, probe_thread, out) == 0)
        pthread_join(t, NULL);
    else
        probe_ring(out);
    int err = out->setup_err;
    char *d = out->detail;
    size_t dl = sizeof out->detail;

    if (err == -EPERM && out->sysctl_disabled >= 1) {
        out->cause = "sysctl";
        snprintf(d, dl,
                 "sysctl kernel.io_uring_disabled=%d refuses io_uring_setup (EPERM); "
                 "fix: sysctl -w kernel.io_uring_disabled=0%s",
                 out->sysctl_disabled,
                 out->sysctl_disabled == 1 ? " or join kernel.io_uring_group" : "");
    } else if ((err == -EPERM || err == -ENOSYS) && out->seccomp_filtered) {
        out->cause = "seccomp";
        snprintf(d, dl,
                 "a seccomp filter denies io_uring_setup (%s; Docker/containerd default "
                 "profile?); fix: allow io_uring_setup/enter/register in the profile",
                 err == -EPERM ? "EPERM" : "ENOSYS");
    } else if (err == -ENOSYS) {
        out->cause = "old kernel";
        snprintf(d, dl,
                 "the kernel has no io_uring (ENOSYS: Linux < 5.1 or CONFIG_IO_URING=n); "
                 "fix: Linux >= 5.19 with io_uring");
    } else if (err) {
        out->cause = "setup failed";
        snprintf(d, dl, "io_uring_setup failed: %s (RLIMIT_MEMLOCK on Linux < 5.12?)",
                 ac_strerror(err));
    } else {
        for (size_t i = 0; i < AC_ARRAY_LEN(needed) && !out->cause; i++) {
            if (!out->op[needed[i].op]) {
                out->cause = needed[i].op == IORING_OP_MSG_RING ? "old kernel" : "missing opcode";
                snprintf(d, dl, "io_uring lacks IORING_OP_%s (Linux %s); fix: a newer kernel",
                         needed[i].name, needed[i].since);
            }
        }
        if (!out->cause && !out->buf_ring) {
            out->cause = "old kernel";
            snprintf(d, dl,
                     "io_uring lacks provided-buffer rings (Linux 5.19); "
                     "fix: a newer kernel");
        }
    }
    out->usable = out->cause == NULL;
}
