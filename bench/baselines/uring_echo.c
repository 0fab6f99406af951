/*
 * uring-echo: the minimal hand-written liburing echo loop that ac-echo must
 * stay within 5 % of. One ring (SINGLE_ISSUER|DEFER_TASKRUN), multishot
 * accept, multishot recv from one provided-buffer ring, send straight from
 * the received buffer, buffer recycled when the send completes. No queue,
 * no timers, no callbacks: the floor of what io_uring echo costs.
 *
 *   uring-echo PORT [CPU]
 */
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define NBUF  1024
#define BUFSZ 4096
enum { K_ACCEPT = 1, K_RECV = 2, K_SEND = 3 };
#define UD(kind, fd, bid) (((uint64_t)(kind) << 56) | ((uint64_t)(bid) << 32) | (uint32_t)(fd))

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufs;

static struct io_uring_sqe *sqe_get(void)
{
    struct io_uring_sqe *s = io_uring_get_sqe(&ring);
    if (!s) {
        io_uring_submit(&ring);
        s = io_uring_get_sqe(&ring);
    }
    return s;
}

static void arm_recv(int fd)
{
    struct io_uring_sqe *s = sqe_get();
    io_uring_prep_recv_multishot(s, fd, NULL, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = 0;
    io_uring_sqe_set_data64(s, UD(K_RECV, fd, 0));
}

static void recycle(unsigned bid)
{
    io_uring_buf_ring_add(br, bufs + (size_t)bid * BUFSZ, BUFSZ, (unsigned short)bid,
                          io_uring_buf_ring_mask(NBUF), 0);
    io_uring_buf_ring_advance(br, 1);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: uring-echo PORT [CPU]\n");
        return 2;
    }
    if (argc > 2) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(atoi(argv[2]), &set);
        sched_setaffinity(0, sizeof set, &set);
    }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
    p.cq_entries = 4096;
    if (io_uring_queue_init_params(1024, &ring, &p) < 0)
        return 1;
    br = mmap(NULL, NBUF * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    bufs = malloc((size_t)NBUF * BUFSZ);
    struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)br, .ring_entries = NBUF};
    if (io_uring_register_buf_ring(&ring, &reg, 0))
        return 1;
    io_uring_buf_ring_init(br);
    for (unsigned i = 0; i < NBUF; i++)
        recycle(i);

    int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)atoi(argv[1])),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 4096))
        return 1;
    struct io_uring_sqe *s = sqe_get();
    io_uring_prep_multishot_accept(s, lfd, NULL, NULL, SOCK_NONBLOCK);
    io_uring_sqe_set_data64(s, UD(K_ACCEPT, lfd, 0));
    struct __kernel_timespec ts = {.tv_nsec = 100000000};
    while (!stop) {
        struct io_uring_cqe *cqe;
        io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, NULL);
        unsigned head, n = 0;
        io_uring_for_each_cqe(&ring, head, cqe)
        {
            n++;
            uint64_t ud = cqe->user_data;
            int kind = (int)(ud >> 56), fd = (int)(uint32_t)ud, res = cqe->res;
            if (kind == K_ACCEPT) {
                if (res >= 0) {
                    setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    arm_recv(res);
                }
            } else if (kind == K_RECV) {
                if (res > 0) {
                    unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
                    struct io_uring_sqe *w = sqe_get();
                    io_uring_prep_send(w, fd, bufs + (size_t)bid * BUFSZ, (size_t)res,
                                       MSG_NOSIGNAL);
                    io_uring_sqe_set_data64(w, UD(K_SEND, fd, bid));
                    if (!(cqe->flags & IORING_CQE_F_MORE))
                        arm_recv(fd);
                } else if (res == -ENOBUFS) {
                    arm_recv(fd);
                } else if (!(cqe->flags & IORING_CQE_F_MORE)) {
                    close(fd);
                }
            } else if (kind == K_SEND) {
                recycle((unsigned)((ud >> 32) & 0xffffff));
            }
        }
        io_uring_cq_advance(&ring, n);
    }
    return 0;
}
