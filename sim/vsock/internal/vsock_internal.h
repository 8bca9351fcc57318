/* vsock_internal.h — what the vsock core and its backends (tcp, mem) share; not for variants. */
#ifndef LINKBENCH_VSOCK_INTERNAL_H
#define LINKBENCH_VSOCK_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <wslay/wslay.h>

#include "vsock.h"

/* A backend: how bytes move and how the opening handshake is done. The WebSocket
 * framing above it is shared (vsock_io.c). Filled with designated initializers and
 * called only through the core. */
struct vsock_backend {
    const char *name;
    /* Like recv(2) with MSG_DONTWAIT: >0 bytes, 0 the peer closed, -EAGAIN, -errno.
     * Counts its own system calls in s->c.sys_read. */
    ssize_t (*recv)(vsock *s, void *buf, size_t len);
    /* Like send(2) with MSG_DONTWAIT|MSG_NOSIGNAL: >0 bytes taken, -EAGAIN, -errno.
     * Counts s->c.sys_write. */
    ssize_t (*send)(vsock *s, const void *buf, size_t len);
    /* Advance the opening handshake (s->mu held): 0 done, -EAGAIN (wait for the fd:
     * writable when output is pending), other negative: failed. */
    int (*handshake_step)(vsock *s, const char *host, const char *path);
    /* True while reads are deliberately held back (a test hook): a blocking reader then
     * sleeps instead of polling a readable fd. NULL: never. */
    bool (*rx_paused)(const vsock *s);
    /* Free s (the backend allocated it, with the core struct first). */
    void (*release)(vsock *s);
};

struct ws_hs;   /* handshake in progress (vsock_tcp.c) */
struct vsock_pmd;   /* permessage-deflate state (vsock_pmd.c) */
struct ws_pmd;

struct vsock {
    const struct vsock_backend *be;
    pthread_mutex_t mu;          /* protocol state below; never held across a wait */
    int fd;                      /* -1 once closed */
    uint8_t role;                /* enum vsock_role */
    bool hs_done;                /* past the opening handshake */
    bool close_called;           /* vsock_close / vsock_close_nb ran */
    bool fd_shut;                /* shut down; close(fd) when the last user leaves */
    bool rx_discard;             /* closing: drop incoming data messages */
    int err;                     /* first fatal error (negative), sticky */
    int users;                   /* threads inside blocking calls */
    uint16_t peer_code;          /* the peer's close code, 0 if none */
    wslay_event_context_ptr ws;  /* NULL until needed and after vsock_trim */
    rt_ctx *uctx;                /* the caller's (vsock_set_ctx) */
    rt_ctx *wctx;                /* child of uctx; vsock_close cancels it to wake waiters */

    /* receive */
    vsock_msg *rx_cur;           /* message being assembled */
    size_t rx_cap;               /* bytes allocated for rx_cur->data */
    bool rx_ctrl;                /* the frame in progress is a control frame */
    bool rx_too_big;
    bool rx_one;                 /* stop reading once a message is decoded */
    bool rx_blocked;             /* the last read found the kernel empty: wait for POLLIN */
    int rx_ioerr;                /* what the recv callback saw (-ECONNRESET, -EPIPE at EOF) */
    size_t rx_budget;            /* bytes this decode round may still read */
    size_t rx_round;             /* bytes read in this round */
    uint64_t rx_fed, rx_framed;  /* bytes given to wslay / in frames it has parsed (trim) */
    uint8_t rx_last[16];         /* the last bytes given to wslay (a partial header's) */
    uint8_t go;                  /* VSOCK_GO_* */
    /* VSOCK_GO_READ: Go checks a read deadline at the start of every conn.Read */
    rt_ns rx_deadline;           /* the current vsock_read's; RT_NEVER outside one */
    bool rx_woken;               /* it waited and was woken: the parked Read may go on */
    bool rx_late;                /* a recv was refused: its deadline had passed */
    bool rx_desync;              /* a frame was broken: what follows is misread */
    vsock_msg *broken;           /* VSOCK_GO_READ: the partial message a deadline broke */
    vsock_msg *in_head, *in_tail;
    uint8_t *pre;                /* bytes that arrived with the handshake head */
    uint32_t pre_off, pre_len;
    /* in-place reading (vsock_inplace.c; no wslay context): a frame not yet complete */
    uint8_t *carry;              /* malloc'd on demand, given back by vsock_trim */
    uint32_t carry_off, carry_len, carry_cap;   /* kept bytes: carry[off..len) */
    uint32_t utf8;               /* UTF-8 check state across a text message's fragments */
    uint8_t frag_op;             /* opcode of the fragmented message in rx_cur, 0 none */
    bool inplace;                /* read with vsock_read_inplace (close frames without wslay) */
    bool frag_ready;             /* rx_cur is whole but not yet taken by the handler */
    bool rx_eof;                 /* the peer's FIN was read; reported after what came before */

    /* send: one coalescing buffer, ob[ob_off..ob_len) not yet in the kernel */
    uint8_t *ob;
    size_t ob_cap, ob_off, ob_len;
    uint64_t out_sent;           /* stream offset of ob[ob_off] */
    const void *pend_ptr;        /* the last vsock_write's message, for the retry rule */
    size_t pend_len;
    uint64_t pend_start, pend_end;   /* its frame's stream offsets */
    bool pend;
    uint64_t partial_end;        /* end of a timed-out, started frame; 0 = none */

    uint64_t rng;
    uint8_t pmd_mode;            /* VSOCK_DEFLATE_*: what the handshake offers or accepts */
    bool rx_z;                   /* the message being assembled is compressed (RSV1) */
    struct vsock_pmd *pmd;       /* agreed: NULL when not */
    struct ws_hs *hs;
    size_t max_msg;
    rt_ns close_timeout, hs_timeout;
    vsock_counters c;
    vsock *reg_prev, *reg_next;  /* live sockets, for vsock_get_totals */
};

/* vsock.c */
/* Buffer gauges (vsock_get_buffers): kind 0 output, 1 carry, 2 wslay context; count and
 * bytes are changes (+1/-1, capacity grown or given back). */
enum { VSOCK_BUF_OUT, VSOCK_BUF_CARRY, VSOCK_BUF_WS };
void vsock__buf(const vsock *s, int kind, int64_t count, int64_t bytes);
int vsock__init(vsock *s, const struct vsock_backend *be, int fd, enum vsock_role role,
                const vsock_opts *o);
void vsock__fail(vsock *s, int err);       /* set the sticky error (first one wins) */
uint64_t vsock__rand(vsock *s);
/* fn on every live socket, with the registry locked: none is destroyed meanwhile (fn
 * must not destroy one, nor call vsock_get_totals). */
void vsock__each(void (*fn)(vsock *s, void *arg), void *arg);

/* vsock_io.c (all with s->mu held) */
static inline uint64_t vsock__out_total(const vsock *s)
{
    return s->out_sent + (s->ob_len - s->ob_off);
}
int vsock__append(vsock *s, const void *data, size_t len);   /* 0, -ENOMEM */
/* Room for need more bytes at ob_len (the unsent tail may slide down): 0, -ENOMEM. */
int vsock__reserve(vsock *s, size_t need);
/* A data frame's header at dst (FIN, RSV1 when rsv1, opcode, length, and a fresh mask
 * key when a client: *key): its size, 14 bytes at most. */
size_t vsock__put_header(vsock *s, uint8_t *dst, int opcode, bool rsv1, size_t len, uint32_t *key);
/* dst = src ^ key repeated (dst == src allowed). */
void vsock__mask(uint8_t *dst, const uint8_t *src, size_t len, uint32_t key);
/* One data frame (masked when a client) into the buffer: 0, -ENOMEM. */
int vsock__append_frame(vsock *s, int opcode, const void *data, size_t len);
/* The same frame at dst (room for len + 14 bytes); returns its size. */
size_t vsock__encode_frame(vsock *s, uint8_t *dst, int opcode, const void *data, size_t len);
int vsock__ensure_ws(vsock *s);          /* the wslay context, made on first use: 0, -ENOMEM */
int vsock__write_err(const vsock *s);    /* what a write says once the socket failed */
int vsock__flush_once(vsock *s);        /* one send: 0 all out, -EAGAIN, other negative */
ssize_t vsock__recv(vsock *s, void *buf, size_t len);          /* backend recv + bytes_in */
int vsock__set_pre(vsock *s, const void *data, size_t len);  /* 0, -ENOMEM */
int vsock__queue_close(vsock *s, int code);   /* close frame into the buffer */
int vsock__inplace_close(vsock *s, int code); /* the same without wslay (vsock_inplace.c) */
/* One decode round: read within rx_budget (stopping after a message when rx_one) and
 * parse into the inbox; 0 or the error that ended reading (sticky). */
int vsock__decode(vsock *s);
/* VSOCK_GO_READ at a read deadline: lose the frame in progress, if any (vsock_io.c). */
void vsock__break_frame(vsock *s);
void vsock__free_io(vsock *s);

/* vsock_pmd.c (with s->mu held) */
/* Agree permessage-deflate with these parameters: 0, -ENOMEM. */
int vsock__pmd_set(vsock *s, const struct ws_pmd *agreed);
/* One compressed data frame (RSV1) into the output buffer: 0, -ENOMEM (the socket has
 * failed: its compressor's state is lost). */
int vsock__pmd_append_frame(vsock *s, int opcode, const void *data, size_t len);
/* Replace *m, a received compressed message, by its inflation: 0, -EMSGSIZE (larger than
 * max_msg inflated), -EPROTO (not a valid deflate stream), -ENOMEM. *m is then freed. */
int vsock__pmd_inflate(vsock *s, vsock_msg **m);
/* The same from n bytes at data: a new message in *out (opcode as given). */
int vsock__pmd_inflate_raw(vsock *s, const uint8_t *data, size_t n, int opcode, vsock_msg **out);
/* An idle socket gives back the zlib streams that keep no context between messages. */
void vsock__pmd_trim(vsock *s);
void vsock__pmd_free(vsock *s);
/* Wait for ev on the fd until deadline, s->mu released meanwhile (held on entry and
 * return). revents, -ETIMEDOUT, -ECANCELED (the caller's ctx, or vsock_close unless
 * user_ctx: then only the caller's ctx counts). */
int vsock__wait_fd(vsock *s, short ev, rt_ns deadline, bool user_ctx);
/* The same on an explicit ctx (NULL: only the deadline). */
int vsock__wait_fd_on(vsock *s, short ev, rt_ns deadline, rt_ctx *c);
int vsock__woke_err(const vsock *s, int w);   /* -ECANCELED after vsock_close reads -EPIPE */
void vsock__leave(vsock *s);   /* end of a blocking call: users--, deferred close, unlock */

#endif
