/* cmd_bench.c — `linkbench bench <name>`: dispatch to a harness micro-benchmark. */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "cmd.h"
#include "drv.h"

static const struct lb_cmd benches[] = {
    {"vsock", "pipelined 64 B echo and ping-pong over one loopback WebSocket; idle memory",
     bench_vsock_main},
    {"driver", "the load generator's CPU per message beside its floor's, over patterns x links x rates",
     drv_bench},
    {"peers", "built-in variants and reference servers side by side: msgs per server CPU-s, RSS per idle link",
     bench_peers_main},
};
#define N_BENCHES (sizeof benches / sizeof benches[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: linkbench bench <name> [options]   (linkbench bench <name> --help)\n\n");
    for (size_t i = 0; i < N_BENCHES; i++)
        fprintf(f, "  %-8s %s\n", benches[i].name, benches[i].summary);
}

int cmd_bench(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return LB_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return LB_EXIT_OK;
    }
    for (size_t i = 0; i < N_BENCHES; i++)
        if (!strcmp(argv[1], benches[i].name))
            return benches[i].run(argc - 1, argv + 1);
    fprintf(stderr, "linkbench bench: unknown benchmark '%s'\n", argv[1]);
    usage(stderr);
    return LB_EXIT_USAGE;
}
