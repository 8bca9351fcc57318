/* run_plan.h — translate a scenario into the server child's configuration and the driver's parameters. */
#ifndef LINKBENCH_RUN_PLAN_H
#define LINKBENCH_RUN_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "drv.h"
#include "scn.h"

/* A scenario fault the driver cannot apply (it concerns the server process): the run
 * applies it itself from the driver's progress callback. at_ns is load time. */
typedef struct run_xfault {
    int64_t at_ns;
    enum scn_fault_kind kind;    /* SCN_FAULT_KILL_SERVER or SCN_FAULT_PAUSE_APP */
    int64_t duration_ns;
    bool done;
} run_xfault;

/* The server child's configuration document (srv_main.h) for variant with `links`
 * links: the module it runs (an instance's variant), its params (variant_config, then an
 * instance's own config), common settings, app model, pinning.
 * New reference, NULL on ENOMEM. */
json_t *run_plan_server_config(const struct scn *s, const char *variant, int64_t links);

/* Driver parameters for `links` links against port: one driver group per scenario
 * group, then the implicit "default" group; client faults as drv faults (faults must
 * hold 2 * SCN_FAULTS_MAX: a stop_reading with a duration adds its resume), the
 * server's faults in xf (SCN_FAULTS_MAX) with their count in *nxf. Scenario times
 * count from the start of measurement; the driver's load time from the end of the
 * ramp, so the warm-up is added. */
void run_plan_driver(const struct scn *s, int64_t links, uint16_t port, struct drv_params *p,
                     struct drv_fault *faults, int *nxf, run_xfault *xf);

/* Which variant (index into the scenario's list of n) runs i-th within repetition rep:
 * the order rotates by one each repetition (A B C, B C A, C A B), so no variant always
 * runs first or last in a round (a warming machine, a neighbour's load that comes and
 * goes, the previous run's TIME_WAIT sockets all favour a fixed position). */
int run_plan_order(int rep, int i, int n);

#endif
