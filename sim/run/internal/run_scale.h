/* run_scale.h — what holding links costs, per run and per step: kernel socket memory, CPU per link-second, time to establish; steps.json and scale.csv for a stepped scenario. */
#ifndef LINKBENCH_RUN_SCALE_H
#define LINKBENCH_RUN_SCALE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "drv.h"

/* Kernel memory of TCP sockets, machine-wide: the buffer pages of /proc/net/sockstat
 * ("TCP: ... mem") and the slab objects every socket holds (/proc/slabinfo: TCP,
 * sock_inode_cache, filp, eventpoll_epi; readable as root only, else 0). */
typedef struct run_kmem {
    bool ok;                 /* sockstat could be read */
    int64_t buf_bytes;       /* sockstat mem pages, in bytes */
    int64_t slab_bytes;      /* active objects x object size, 0 when slabinfo is closed */
} run_kmem;

void run_kmem_read(run_kmem *k);

/* Add the scale metrics to run (a run object from run_object): held links are
 * metrics.links;
 *   establish_s              the driver's first connect to its last link open (all
 *                            driver processes: the latest), absent unless all opened
 *   cpu_per_link_s           server CPU seconds per link and second of measurement
 *   sock_mem_per_link_bytes  (k1 - k0) / links of the slab objects: both ends' kernel
 *                            memory (on loopback the client's socket is in the same
 *                            kernel); sockstat's buffers when slabinfo is closed
 *   sock_slab_per_link_bytes, sock_buf_per_link_bytes   slab, and sockstat's buffer
 *                            pages (machine-wide traffic moves them: noisy)
 *   server_processes, driver_processes
 * k0 is read before the server starts, k1 at the end of the measured window. The
 * kernel figures are machine-wide: other processes' sockets on a shared machine add
 * noise, which is why the report gives them per step and not as a check. */
void run_scale_add(json_t *run, const struct drv_result *dr, const run_kmem *k0,
                   const run_kmem *k1, int server_processes, int driver_processes);

/* After every step of a stepped scenario ran: read dir/links_<N>/report.json for each
 * step and write dir/steps.json ({"steps": [{links, report, valid, summary: {variant:
 * {metric: {median, min, max}}, limit_reached}}]}) and dir/scale.csv (variant,links,
 * threads,rss_per_link_bytes,sock_mem_per_link_bytes,cpu_per_link_s,establish_s,held,
 * limit_reason: medians, one row per variant and step). Steps whose report is missing
 * (interrupted) are left out. 0, or -errno with "path: reason" in err. */
int run_scale_write(const char *dir, const int64_t *steps, int n_steps, char *err,
                    size_t errlen);

#endif
