/* evl.h — internals of the evloop variant: one libev loop per core, links pinned to a loop, no thread per link. */
#ifndef LINKBENCH_EVL_H
#define LINKBENCH_EVL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "link.h"
#include "rt.h"
#include "vsock.h"

/* ---------------------------------------------------------------- params */

enum evl_param {
    EVL_P_LOOPS,              /* loop threads; 0 = online CPUs */
    EVL_P_READ_BUDGET_BYTES,  /* bytes read per readiness event */
    EVL_P_READ_BUDGET_MSGS,   /* messages delivered per readiness event */
    EVL_P_RECV_QUEUE_CAP,     /* receive queue capacity (messages) */
    EVL_P_RECV_HIGH,          /* stop reading at this queue length */
    EVL_P_RECV_LOW,           /* resume when the app pops down to this length */
    EVL_P_SEND_LOW_BYTES,     /* on_writable below this */
    EVL_P_SEND_HIGH_BYTES,    /* send answers -EAGAIN above this */
    EVL_P_SEND_HARD_BYTES,    /* hard limit of queued outbound bytes */
    EVL_P_SEND_OVERFLOW_CLOSE,/* 1: close 1008 at the hard limit; 0: drop the message */
    EVL_P_SEND_BACKPRESSURE,  /* 1: -EAGAIN above high; 0: accept up to the hard limit */
    EVL_P_WRITE_TIMEOUT_MS,   /* stall: no byte taken by the peer for this long */
    EVL_P_CLOSE_TIMEOUT_MS,   /* close handshake wait */
    EVL_P_IDLE_TIMEOUT_MS,    /* loop-side idle close; 0 = off (the app's reaper decides) */
    EVL_P_TRIM_AFTER_MS,      /* give vsock buffers back after this long without I/O */
    EVL_P_RATE_BURST,         /* limiter bucket; 0 = rate (the seed's choice) */
    EVL_P_CORK_BYTES,         /* app.inline: a read's replies are written once this many wait */
    EVL_P_COMPRESSION,        /* permessage-deflate in the upgrade (read by the harness) */
    EVL_P_COUNT
};

extern const struct link_param evl_params[EVL_P_COUNT];

/* ---------------------------------------------------------------- timeout lists */

/* libev's "be smart about timeouts", strategy #4: a doubly linked list sorted by
 * deadline with one rt_timer for its head. With a constant timeout an insertion is an
 * append (O(1)); the timer is touched only when the head gets earlier, and a removed
 * head leaves the timer armed (it fires, finds nothing, re-arms): no libev call per
 * activity. */
typedef struct evl_tnode {
    struct evl_tnode *prev, *next;   /* next == NULL: not linked */
    rt_ns at;                        /* deadline (loop clock) */
} evl_tnode;

struct evl_tlist;
typedef void (*evl_expire_fn)(struct evl_tlist *tl, evl_tnode *n, rt_ns now);

typedef struct evl_tlist {
    evl_tnode head;        /* sentinel of a circular list */
    rt_timer *timer;
    rt_ns armed_at;        /* RT_NEVER when not armed */
    rt_ns slack;           /* fire up to this late to batch neighbours */
    rt_loop *rl;
    evl_expire_fn expire;
    void *arg;
} evl_tlist;

int evl_tlist_init(evl_tlist *tl, rt_loop *rl, rt_ns slack, evl_expire_fn fn, void *arg);
void evl_tlist_deinit(evl_tlist *tl);
/* (Re)insert n with deadline at, keeping the list sorted (walks from the tail). */
void evl_tlist_put(evl_tlist *tl, evl_tnode *n, rt_ns at);
void evl_tlist_del(evl_tnode *n);
static inline bool evl_tnode_linked(const evl_tnode *n) { return n->next != NULL; }

#define EVL_CONTAINER(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* ---------------------------------------------------------------- server, loops */

struct link;
struct link_server;

typedef struct evl_loop {
    struct link_server *srv;
    int idx;
    rt_loop *rl;
    rt_async *wake;
    rt_thread *thr;
    int start_err;
    _Atomic(struct link *) inbox;      /* Treiber stack of links with requests */
    _Atomic int64_t nlinks;             /* attached and not yet destroyed */
    bool stopping;                      /* loop thread only */
    rt_timer *defer;                    /* zero-delay timer: the safe point */
    struct link *pending;                /* links with deferred work */
    struct link *all;                   /* every link owned by this loop */
    evl_tlist idle;                     /* trim, then idle close */
    evl_tlist stall;                    /* write armed: last progress + write timeout */
    evl_tlist closing;                  /* close handshake timeout */
    evl_tlist rate;                     /* waiting for a token */
    uint8_t *rbuf;                      /* every link of the loop is read into it */
    size_t rbuf_cap;                    /* read_budget_bytes */
    vsock_msg *pool;                    /* messages to reuse (loop thread only) */
    int npool;
    bool pool_used;                     /* taken from since the last pool pass */
    rt_ns pool_pass;                    /* last pool pass (at most one per trim period) */
} evl_loop;

struct link_server {
    struct link_host *host;
    int64_t p[EVL_P_COUNT];
    struct link_common common;
    int nloops;
    evl_loop *loops;
    rt_queue *ready;          /* loop threads report start-up here */
    _Atomic bool stopping;
};
typedef struct link_server evl_server;

/* ---------------------------------------------------------------- links */

enum evl_state { EVL_NEW, EVL_OPEN, EVL_CLOSING, EVL_DEAD };

/* Requests from other threads, OR-ed into link.req and handled on the loop. */
enum {
    EVL_REQ_ATTACH = 1u << 0,
    EVL_REQ_SEND = 1u << 1,
    EVL_REQ_RESUME = 1u << 2,
    EVL_REQ_CLOSE = 1u << 3,   /* cause in req_cause */
    EVL_REQ_RELEASE = 1u << 4,
    EVL_REQ_FLUSH = 1u << 5    /* an inline send left part of its frame queued: arm write */
};

/* Why reading is stopped (bits). APP: app.inline's handler takes nothing from the link
 * until its held reply is written (it answered deliver with -EAGAIN). */
enum { EVL_PAUSE_BACKPRESSURE = 1, EVL_PAUSE_RATE = 2, EVL_PAUSE_APP = 4 };

struct link {
    /* ---- shared with app threads (atomics) */
    evl_server *srv;
    evl_loop *loop;
    vsock *vs;
    uint32_t id;
    _Atomic uint32_t req;
    _Atomic int req_cause;               /* first close cause asked for, -1 none */
    _Atomic bool in_inbox;
    struct link *inbox_next;
    _Atomic(vsock_msg *) outq;           /* Treiber stack of messages from send */
    _Atomic(rt_queue *) rq;              /* receive queue, created on first message */
    _Atomic int64_t in_bytes;            /* accepted by send, not yet in the vsock */
    _Atomic int64_t in_msgs;             /* the same in messages (the held op) */
    _Atomic int64_t vs_bytes;            /* in the vsock, not yet in the kernel */
    _Atomic rt_ns last_active;           /* UpdateActiveTime (rt_now clock) */
    _Atomic bool closed;                 /* no more sends (set by a close request too) */
    _Atomic bool rx_closed;              /* on_closed done: recv drains then -EPIPE */
    _Atomic bool want_writable;          /* send answered -EAGAIN */
    _Atomic bool rd_paused;              /* stopped for backpressure: LOW posts resume */
    /* Outbound state (the vsock's output, the sent list, tx_idle) is the loop's, except
     * that a sender on an app thread may write inline while the link is idle: it only
     * try-locks tx_lock and falls back to outq, the loop takes it (evl_tx_lock). */
    _Atomic int tx_lock;
    _Atomic bool rx_burst;               /* the last read brought more than one message */
    bool tx_idle;                        /* under tx_lock: open, nothing queued, write not armed */

    /* ---- loop thread only */
    rt_io *io;
    uint8_t state, pause, io_ev;
    bool peer_eof, in_pending, reap, app_done, trimmed, wr_armed;
    bool in_read, in_flush, tx_dirty;    /* loop sends (app.inline) corked until the read ends */
    int rd_err;                          /* error from vsock_read_nb, acted on once drained */
    int tx_depth;                        /* tx_lock nesting on the loop */
    vsock_msg *held;                     /* inbound message waiting for a token or room;
                                          * written with __atomic_store_n: the held op reads
                                          * it from another thread */
    vsock_msg *cork, *cork_tail;         /* to send, not yet in the vsock (tx lock) */
    int64_t cork_bytes;                  /* their frames' bytes */
    int64_t cork_n;                      /* how many (still counted in in_msgs) */
    vsock_msg *sent, *sent_tail;         /* queued in the vsock, maybe not in the kernel */
    int64_t sent_bytes;                  /* frame bytes of the sent list */
    int64_t close_frame_bytes;
    evl_tnode tn_idle, tn_out, tn_rate;  /* tn_out: stall list, then closing list */
    struct link *pend_next, *all_prev, *all_next;
    rt_limiter *lim;                     /* only when rate limiting is on */
};
typedef struct link evl_link;

/* evl_server.c */
extern __attribute__((tls_model("initial-exec"))) _Thread_local evl_loop *evl_cur_loop;   /* or NULL */
void evl_post(evl_link *l, uint32_t req);            /* any thread */
void evl_defer(evl_link *l);                          /* loop thread: run at the safe point */

/* evl_io.c (loop thread) */
void evl_link_open(evl_link *l);
void evl_link_handle(evl_link *l, uint32_t req);
void evl_link_run_deferred(evl_link *l);
void evl_close_begin(evl_link *l, enum link_close_cause cause);
void evl_link_destroy(evl_link *l);
void evl_link_free(evl_link *l);
void evl_idle_expire(evl_tlist *tl, evl_tnode *n, rt_ns now);
void evl_stall_expire(evl_tlist *tl, evl_tnode *n, rt_ns now);
void evl_closing_expire(evl_tlist *tl, evl_tnode *n, rt_ns now);
void evl_rate_expire(evl_tlist *tl, evl_tnode *n, rt_ns now);
int evl_loop_send(evl_link *l, vsock_msg *m);        /* send on l's own loop thread */

/* Messages of the loop (evl_server.c, loop thread): malloc'd like vsock_msg_new, so
 * anyone may free them, but those written by this loop come back here for the next
 * read instead of going through malloc and free once each. */
vsock_msg *evl_msg_get(evl_loop *lp, size_t len);
void evl_msg_put(evl_loop *lp, vsock_msg *m);
void evl_pool_trim(evl_loop *lp);   /* give the pool back when it was not used lately */

/* evl_link.c (app side) */
void evl_tx_lock(evl_link *l);     /* loop thread; nests */
void evl_tx_unlock(evl_link *l);
void evl_rq_notify(void *arg, rt_queue *q, enum rt_queue_event ev);

#endif
