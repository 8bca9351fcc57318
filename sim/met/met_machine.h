/* met_machine.h — the machine record every result carries: CPUs, model, kernel, placement, steal. */
#ifndef LINKBENCH_MET_MACHINE_H
#define LINKBENCH_MET_MACHINE_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

typedef struct met_machine {
    int cpus;                  /* online CPUs */
    char model[128];           /* /proc/cpuinfo "model name" of the first CPU */
    char kernel[272];          /* uname: sysname release version machine */
    char affinity[128];        /* CPUs this process may run on, e.g. "0-1" or "0,3" */
    int last_cpu;              /* the CPU this process last ran on (-1 unknown) */
    int64_t steal_begin;       /* /proc/stat steal, all CPUs, in USER_HZ ticks */
    int64_t steal_end;
    int64_t ticks_per_s;       /* USER_HZ */
} met_machine;

/* Fill everything and take the first steal reading. 0 (missing /proc files leave
 * fields empty or -1, never an error). */
int met_machine_begin(met_machine *m);
/* Second steal reading, refreshed placement. */
void met_machine_end(met_machine *m);

/* Steal between begin and end, in ms. */
double met_machine_steal_ms(const met_machine *m);

/* One line: "machine: 2 cpus, <model>, <kernel>; placement: affinity 0-1, last cpu 1;
 * steal 0.0 ms". */
void met_machine_print(const met_machine *m, FILE *f);
/* {"cpus", "model", "kernel", "placement": {"affinity", "last_cpu"}, "steal_ms",
 * "steal_ticks"}; NULL on ENOMEM. */
json_t *met_machine_json(const met_machine *m);

/* Helpers others reuse: a CPU set as a list "0-1,4"; steal ticks now (-1 unknown). */
void met_cpuset_format(const void *cpu_set, char *out, size_t cap);
int64_t met_steal_ticks(void);

#endif
