/* vsock_census.c — a socket's holdings at a moment: its inbox, partial message and output buffer, and the kernel's queues (SIOCINQ, SIOCOUTQNSD). */
#include "vsock_census.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "vsock_internal.h"

static void kernel_part(int fd, vsock_census *c)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        c->tcp = true;
        c->local_ip = ntohl(a->sin_addr.s_addr);
        c->local_port = ntohs(a->sin_port);
        len = sizeof ss;
        if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_INET) {
            c->peer_ip = ntohl(a->sin_addr.s_addr);
            c->peer_port = ntohs(a->sin_port);
        }
    }
    int n = 0;
    if (ioctl(fd, SIOCINQ, &n) == 0)
        c->kernel_in_bytes = n;
    /* Unsent bytes only: on loopback a sent segment is in the peer's receive queue
     * at once, where the peer's SIOCINQ counts it; SIOCOUTQ (unacknowledged) would
     * count it a second time until the delayed ACK comes. */
    n = 0;
    if (c->tcp && ioctl(fd, SIOCOUTQNSD, &n) == 0)
        c->kernel_out_bytes = n;
}

int vsock_census_get(vsock *s, vsock_census *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_lock(&s->mu);
    c->msgs_in = s->c.msgs_in;
    c->msgs_out = s->c.msgs_out;
    c->bytes_in = s->c.bytes_in;
    c->bytes_out = s->c.bytes_out;
    for (const vsock_msg *m = s->in_head; m; m = m->next)
        c->inbox_msgs++;
    c->rx_partial_bytes = s->rx_cur ? s->rx_cur->len : 0;
    /* read in place (vsock_inplace.c): frames kept, cut or not yet handed over, are read
     * from the kernel and not yet messages (msgs_in counts them once handed over) */
    c->rx_partial_bytes += (int64_t)(s->carry_len - s->carry_off);
    c->out_bytes = (int64_t)(s->ob_len - s->ob_off);
    int fd = s->fd;
    if (fd >= 0)
        kernel_part(fd, c);   /* under the lock: the fd cannot be closed meanwhile */
    c->fd_open = fd >= 0;
    pthread_mutex_unlock(&s->mu);
    return fd >= 0 ? 0 : -EBADF;
}

struct each {
    void (*fn)(void *arg, vsock *s, const vsock_census *c);
    void *arg;
};

static void one(vsock *s, void *arg)
{
    struct each *e = arg;
    vsock_census c;
    vsock_census_get(s, &c);
    e->fn(e->arg, s, &c);
}

void vsock_census_each(void (*fn)(void *arg, vsock *s, const vsock_census *c), void *arg)
{
    struct each e = {fn, arg};
    vsock__each(one, &e);
}
