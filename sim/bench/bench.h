/* bench.h — micro-benchmarks of the harness itself, run by `linkbench bench <name>`. */
#ifndef LINKBENCH_BENCH_H
#define LINKBENCH_BENCH_H

/* `linkbench bench vsock [--seconds N] [--same-cpu]`: pipelined 64-byte echo and
 * ping-pong over one loopback connection, memory per idle socket, the machine record.
 * argv[0] is "vsock". Returns an exit code (0 ok, 1 failed, 2 usage). */
int bench_vsock_main(int argc, char **argv);

/* `linkbench bench peers`: built-in variants and reference servers side by side
 * (bench_peers.c). argv[0] is "peers". Returns an exit code (0, 1, 2). */
int bench_peers_main(int argc, char **argv);

#endif
