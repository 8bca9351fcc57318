/* srv_main.h — the server child process of `linkbench run`: listener, variant, app model, and its pipe protocol with the parent. */
#ifndef LINKBENCH_SRV_MAIN_H
#define LINKBENCH_SRV_MAIN_H

/* The parent starts the server as a fresh process (posix_spawn of its own executable
 * with `run --server-child`), so the server's threads, memory and CPU counters hold
 * only the server: nothing inherited from the driver process pollutes them.
 *
 * Protocol: newline-terminated lines on two pipes, fd SRV_CTRL_FD (parent -> child)
 * and fd SRV_REPORT_FD (child -> parent).
 *
 *   parent: {"variant": "dual" | "./my.so", "params": {"name": int, ...},
 *            "common": {"rate_limit_per_s", "auto_close", "max_msg_bytes"},
 *            "app": {"workers", "mode": "echo"|"sink", "recv_batch", "service_ns",
 *                    "push_per_s" (a real), "push_pattern": "constant"|"poisson",
 *                    "push_seed", "push_bytes", "idle_timeout_ns", "reap_period_ns",
 *                    "max_links"},
 *            "pin": [cpu, ...],
 *            "addr": "127.0.0.1", "port": 0,
 *            "reuseport": false,      SO_REUSEPORT: several server processes on one port
 *            "parent_pid": P}         exit at once when the parent is already gone (the
 *                                     child also dies with it: PR_SET_PDEATHSIG)
 *                                                     the configuration, first line
 *   child:  {"event": "ready", "port": N, "pid": P}  listening; or
 *           {"event": "error", "message": "..."}     could not start (then exits 1)
 *   parent: "measure"      warm-up is over: counters and histograms restart here
 *           "end"          the measured window is over: window figures are taken here
 *           "acct"         the driver drained and stops: drops so far explain its holes
 *           "pause NS"     the app takes nothing for NS nanoseconds (fault pause_app)
 *           "sync"         answered {"event": "synced"} once every earlier command is done
 *           "recheck"      after the drivers' census: take the census again; answered
 *                          {"event": "rechecked", "moved": B}. moved: something moved
 *                          since the census kept, which is replaced by the new one (the
 *                          parent then takes its census again and asks once more)
 *           "stop"         stop the variant and report (also on EOF or SIGTERM)
 *   child:  {"event": "report", ...}                 one document (see srv_report.h)
 */
#define SRV_CTRL_FD 3
#define SRV_REPORT_FD 4

/* Run the server child on the two fds above. Returns the process exit code:
 * 0 after a report, 1 when the server could not start. */
int srv_main(int ctrl_fd, int report_fd);

#endif
