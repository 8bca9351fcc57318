/* met_names.c — the report contract's metric names, in report order. */
#include "met_names.h"

#include <stddef.h>

const char *const MET_SCALAR_METRICS[] = {
    "links", "threads_peak", "threads_per_link",
    "cpu_server_s", "cpu_link_s", "cpu_app_s", "cpu_driver_util",
    "wakeups_per_link_s", "syscalls_per_msg",
    "rss_peak_bytes", "rss_per_link_bytes",
    "msgs_sent", "msgs_delivered", "msgs_dropped", "msgs_refused", "msgs_in_flight", "msgs_lost",
    "throughput_msgs_s", "links_closed_idle", "links_closed_error",
    NULL,
};
const char *const MET_LATENCY_METRICS[] = {"lat_in_us", "lat_out_us", "lat_rtt_us", NULL};
const char *const MET_LATENCY_KEYS[] = {"p50", "p90", "p99", "p999", "max", NULL};
