/* drv_echo.h — a minimal libev + vsock echo server thread, the driver's counterpart in tests and `bench driver`. */
#ifndef LINKBENCH_DRV_ECHO_H
#define LINKBENCH_DRV_ECHO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Not a variant and not the app model: just enough server to check the driver against
 * (and to break on purpose: drop, duplicate). One thread, one libev loop, listening on
 * 127.0.0.1 at an ephemeral port. */
struct drv_echo_params {
    int cpu;                        /* pin the server thread; -1 = no pinning */
    uint32_t drop_every;            /* drop the Nth, 2Nth, ... echo of each connection; 0 none */
    int64_t dup_seq;                /* echo the message with this seq twice; -1 none */
    bool stamp_t_app;               /* set the wire header's t_app when echoing */
    bool push_per_echo;             /* also send a WIRE_PUSH (per-connection seq) after each echo */
    size_t pause_above_bytes;       /* stop reading a connection with more queued (default 1 MiB) */
};
void drv_echo_params_default(struct drv_echo_params *p);

/* Counters; read them after drv_echo_stop (the thread owns them while it runs). */
struct drv_echo_stats {
    int64_t accepted, handshakes_ok, handshakes_failed, closed;
    int64_t msgs_in, msgs_out, pushes_out, dropped, duplicated, not_wire;
    int64_t write_eagain;           /* flushes that left bytes queued: the client was not reading */
    int64_t read_pauses;            /* connections paused for exceeding pause_above_bytes */
    int64_t pending_max_bytes;      /* most bytes ever queued on one connection */
};

struct drv_echo;
/* Start the thread; *port is the listening port. 0 or a negative errno. */
int drv_echo_start(const struct drv_echo_params *p, struct drv_echo **out, uint16_t *port);
/* Stop the thread, close every connection, copy the counters, free. */
void drv_echo_stop(struct drv_echo *e, struct drv_echo_stats *st);
/* Thread CPU of the server so far (ns), readable while it runs. */
int64_t drv_echo_cpu_ns(const struct drv_echo *e);

#endif
