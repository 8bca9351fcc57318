/* srv_acceptor.h — the server's listener: accept, non-blocking WebSocket handshake, hand links to the app. */
#ifndef LINKBENCH_SRV_ACCEPTOR_H
#define LINKBENCH_SRV_ACCEPTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "app.h"
#include "rt.h"
#include "vsock.h"

typedef struct srv_acceptor srv_acceptor;

typedef struct srv_acceptor_opts {
    const char *addr;              /* IPv4 address to listen on (default "127.0.0.1") */
    uint16_t port;                 /* 0 = any (see srv_acceptor_port) */
    bool reuseport;                /* SO_REUSEPORT: several server processes share the port,
                                    * the kernel spreads connections over their listeners */
    int backlog;                   /* listen(2) backlog (default 4096) */
    rt_ns handshake_timeout_ns;    /* an upgrade not done by then is closed (default 10 s) */
    rt_ns emfile_retry_ns;         /* accept paused this long when out of fds (default 100 ms) */
    rt_group group;                /* the acceptor thread's group (default RT_GROUP_OTHER) */
    vsock_opts vs;                 /* for every accepted vsock */
} srv_acceptor_opts;

void srv_acceptor_opts_default(srv_acceptor_opts *o);

typedef struct srv_acceptor_stats {
    int64_t accepted;             /* fds accepted */
    int64_t accept_errors;        /* accept failures other than EAGAIN/EMFILE/ENFILE */
    int64_t fd_limit_pauses;      /* EMFILE/ENFILE: accept paused, retried on a timer */
    int64_t handshakes_ok, handshakes_failed, handshake_timeouts;
    int64_t attached;             /* handed to the variant */
    int64_t attach_failed;        /* the variant's attach failed (any reason) */
    int64_t attach_thread_limit;  /* ... with -EAGAIN: a thread could not be created */
    int64_t refused;              /* the app's link table was full */
    int64_t pending;              /* handshakes in progress now */
} srv_acceptor_stats;

/* Listen (bind + listen happen here, so the port is known on return) and start the
 * acceptor thread. Each upgraded socket goes to app_attach, which numbers links in
 * attach order; a failed upgrade uses no id. NULL with *err (negative) on failure. */
srv_acceptor *srv_acceptor_start(const srv_acceptor_opts *o, app *a, int *err);
/* The bound port (host order). */
uint16_t srv_acceptor_port(const srv_acceptor *acc);
/* Stop accepting, close the listener and pending handshakes, join the thread.
 * Links already attached are the variant's. Idempotent. */
void srv_acceptor_stop(srv_acceptor *acc);
void srv_acceptor_destroy(srv_acceptor *acc);   /* stops first; NULL is a no-op */
void srv_acceptor_stats_get(srv_acceptor *acc, srv_acceptor_stats *out);

#endif
