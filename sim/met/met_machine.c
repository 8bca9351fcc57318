/* met_machine.c — read the machine record from /proc and uname (placement and steal decide what a figure means). */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "met_machine.h"

static void read_model(char *out, size_t cap)
{
    out[0] = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10))
            continue;
        char *v = strchr(line, ':');
        if (!v)
            continue;
        v++;
        while (*v == ' ' || *v == '\t')
            v++;
        v[strcspn(v, "\n")] = 0;
        snprintf(out, cap, "%s", v);
        break;
    }
    fclose(f);
}

int64_t met_steal_ticks(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    long long v[8] = {0};
    /* cpu  user nice system idle iowait irq softirq steal ... */
    int n = fscanf(f, "cpu %lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    return n == 8 ? (int64_t)v[7] : -1;
}

/* Field 39 of /proc/self/stat: the CPU the process last ran on. The command name
 * (field 2) may hold spaces, so count from its closing parenthesis. */
static int read_last_cpu(void)
{
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return -1;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    for (int field = 3; field < 39 && p; field++) {
        p = strchr(p + 1, ' ');
    }
    return p ? atoi(p + 1) : -1;
}

void met_cpuset_format(const void *cpu_set, char *out, size_t cap)
{
    const cpu_set_t *set = cpu_set;
    size_t used = 0;
    out[0] = 0;
    for (int c = 0; c < CPU_SETSIZE && used + 16 < cap; c++) {
        if (!CPU_ISSET(c, set))
            continue;
        int e = c;
        while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, set))
            e++;
        int w = e > c ? snprintf(out + used, cap - used, "%s%d-%d", used ? "," : "", c, e)
                      : snprintf(out + used, cap - used, "%s%d", used ? "," : "", c);
        used += (size_t)w;
        c = e;
    }
}

static void read_placement(met_machine *m)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        met_cpuset_format(&set, m->affinity, sizeof m->affinity);
    else
        snprintf(m->affinity, sizeof m->affinity, "?");
    m->last_cpu = read_last_cpu();
}

int met_machine_begin(met_machine *m)
{
    memset(m, 0, sizeof *m);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    m->cpus = n > 0 ? (int)n : -1;
    read_model(m->model, sizeof m->model);
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(m->kernel, sizeof m->kernel, "%s %s %s %s", u.sysname, u.release, u.version,
                 u.machine);
    long hz = sysconf(_SC_CLK_TCK);
    m->ticks_per_s = hz > 0 ? hz : 100;
    read_placement(m);
    m->steal_begin = met_steal_ticks();
    m->steal_end = m->steal_begin;
    return 0;
}

void met_machine_end(met_machine *m)
{
    m->steal_end = met_steal_ticks();
    read_placement(m);
}

double met_machine_steal_ms(const met_machine *m)
{
    if (m->steal_begin < 0 || m->steal_end < 0)
        return -1;
    return (double)(m->steal_end - m->steal_begin) * 1000.0 / (double)m->ticks_per_s;
}

void met_machine_print(const met_machine *m, FILE *f)
{
    fprintf(f, "machine: %d cpus, %s, %s; placement: affinity %s, last cpu %d; steal %.1f ms\n",
            m->cpus, m->model[0] ? m->model : "unknown model", m->kernel, m->affinity,
            m->last_cpu, met_machine_steal_ms(m));
}

json_t *met_machine_json(const met_machine *m)
{
    return json_pack("{s:i, s:s, s:s, s:{s:s, s:i}, s:f, s:I}", "cpus", m->cpus, "model",
                     m->model, "kernel", m->kernel, "placement", "affinity", m->affinity,
                     "last_cpu", m->last_cpu, "steal_ms", met_machine_steal_ms(m),
                     "steal_ticks",
                     (json_int_t)(m->steal_begin >= 0 && m->steal_end >= 0
                                      ? m->steal_end - m->steal_begin
                                      : -1));
}
