/* run_progress.c — one live line per run in a terminal: run k of N, scenario k of N, variant, repetition, phase, elapsed and an estimate of what is left for the whole invocation. */
#include "run_progress.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* One invocation of `linkbench run` at a time, in the parent process only. */
static struct {
    int n_scen, scen, runs, done;
    double est_total, est_done, est_run;
    struct timespec t0, run_t0;
    char scen_name[128], variant[128];
    int rep, reps;
    long long links;
} P;

static double since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

double run_progress_estimate(const struct scn *s, int64_t links)
{
    double ramp = s->connect_rate_per_s > 0 ? (double)links / s->connect_rate_per_s : 0;
    /* measured on a 2-vCPU VM: about a second to start and stop a server, and some
     * milliseconds per link to open and close it (threads and sockets) */
    return ramp + s->warmup_s + s->duration_s + 0.6 + (double)links * 0.0025;
}

void run_progress_count(const struct scn *s, int *runs, double *secs)
{
    int per = (int)s->repetitions * s->n_variants;
    if (!s->n_steps) {
        *runs += per;
        *secs += per * run_progress_estimate(s, s->links);
    }
    for (int i = 0; i < s->n_steps; i++) {
        *runs += per;
        *secs += per * run_progress_estimate(s, s->steps[i]);
    }
}

void run_progress_plan(int n_scenarios, int runs, double est_s)
{
    memset(&P, 0, sizeof P);
    P.n_scen = n_scenarios;
    P.runs = runs;
    P.est_total = est_s;
    clock_gettime(CLOCK_MONOTONIC, &P.t0);
}

double run_progress_elapsed(void)
{
    return since(&P.t0);
}

void run_progress_scenario(int k, const char *name)
{
    P.scen = k;
    snprintf(P.scen_name, sizeof P.scen_name, "%s", name);
}

void run_progress_run_start(const char *variant, int rep, int reps, int64_t links, double est_s)
{
    snprintf(P.variant, sizeof P.variant, "%s", variant);
    P.rep = rep;
    P.reps = reps;
    P.links = (long long)links;
    P.est_run = est_s;
    clock_gettime(CLOCK_MONOTONIC, &P.run_t0);
}

void run_progress_run_end(void)
{
    P.done++;
    P.est_done += P.est_run;
}

int run_progress_columns(int fd)
{
    if (!isatty(fd))
        return 0;
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    return c && atoi(c) > 0 ? atoi(c) : 80;
}

static void mmss(char *out, size_t len, double s)
{
    if (s < 0)
        s = 0;
    long t = (long)(s + 0.5);
    snprintf(out, len, "%ld:%02ld", t / 60, t % 60);
}

/* What is left: the plan's remaining estimate, scaled by how the finished runs compared
 * with theirs (the machine's own speed), minus what the current run has done. */
static double left(void)
{
    double el = since(&P.t0), ratio = 1;
    if (P.est_done > 0 && P.done > 0)
        ratio = (el - since(&P.run_t0)) / P.est_done;
    if (ratio < 0.3)
        ratio = 0.3;
    double rest = (P.est_total - P.est_done) * ratio - since(&P.run_t0);
    return rest > 0 ? rest : 0;
}

void run_progress_show(FILE *f, const char *phase, double t_s, double total_s, long long links,
                       double msgs_per_s)
{
    char line[512], el[48], lf[48];
    mmss(el, sizeof el, since(&P.t0));
    mmss(lf, sizeof lf, left());
    /* what matters most first: a narrow terminal cuts the end */
    int n = snprintf(line, sizeof line, "[run %d/%d, %s elapsed, ~%s left] scenario %d/%d %s | %s | "
                     "rep %d/%d | %s %.1f/%.1f s | %lld links | %.0f msg/s",
                     P.done + 1, P.runs, el, lf, P.scen, P.n_scen, P.scen_name, P.variant,
                     P.rep + 1, P.reps, phase, t_s, total_s, links, msgs_per_s);
    int cols = run_progress_columns(fileno(f));
    if (cols > 1 && n > cols - 1)   /* the line is ASCII: bytes are columns */
        line[cols - 1] = 0;
    fprintf(f, "\r\033[K%s", line);
    fflush(f);
}

void run_progress_clear(FILE *f)
{
    fputs("\r\033[K", f);
    fflush(f);
}
