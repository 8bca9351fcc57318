#!/usr/bin/env python3
# go_compare.py — the "C port vs Go original" section of docs/go-reference.md, generated from report.json files that ran <design> beside go:<design>.
"""Usage: scripts/go_compare.py [--doc docs/go-reference.md] REPORT.json...

Prints a markdown section comparing each seed design's C port with the seed's own Go
code (go:<design>) measured in the same run, one table per report: per design and
metric the two medians and their ratio, then why they differ, worded from the figures.
With --doc, replaces the text between the go-compare markers of that file instead.
Only the standard library: it reads linkbench's report contract (docs/reports.md).
"""
import json
import os
import re
import sys

DESIGNS = ["dual", "batch", "poll", "hybrid", "pair"]
BEGIN, END = "<!-- go-compare:begin -->", "<!-- go-compare:end -->"


def med(summary, metric, sub=None):
    m = summary.get(metric)
    if sub is not None and isinstance(m, dict):
        m = m.get(sub)
    if isinstance(m, dict):
        m = m.get("median")
    return m if isinstance(m, (int, float)) else None


def own(s, key):
    """The server's own count: `<key>_self` in reports whose `<key>` is the kernel's
    (docs/reports.md, "Counted by the kernel"), `<key>` in older ones."""
    v = med(s, key + "_self")
    return v if v is not None else med(s, key)


def ctxsw_per_link_s(report, variant):
    """Kernel context switches of the server process per link-second (median of runs)."""
    vals = []
    for run in report.get("runs", []):
        if run.get("variant") != variant:
            continue
        m, srv = run.get("metrics", {}), run.get("server", {})
        links, win = m.get("links") or 0, (srv.get("window_ns") or 0) / 1e9
        if links > 0 and win > 0:
            vals.append(((m.get("ctxsw_voluntary") or 0) + (m.get("ctxsw_involuntary") or 0)) / links / win)
    vals.sort()
    return vals[len(vals) // 2] if vals else None


def torn_frames(report, variant):
    """Reads a deadline cut in the middle of a frame (Go: gobwas leaves the stream torn)."""
    n = 0
    for run in report.get("runs", []):
        if run.get("variant") == variant:
            n += run.get("server", {}).get("go", {}).get("frames", {}).get("mid_frame_read_timeouts", 0)
    return n


def limit_reached(report, variant):
    """What stopped a run from holding every link (flags.limit_reached), the first said."""
    for run in report.get("runs", []):
        if run.get("variant") == variant and run.get("flags", {}).get("limit_reached"):
            return run["flags"]["limit_reached"]
    return None


def fmt(v, unit=""):
    if v is None:
        return "–"
    a = abs(v)
    if a >= 1e6:
        s = f"{v / 1e6:.2f} M"
    elif a >= 1e4:
        s = f"{v / 1e3:.1f} k"
    elif a >= 100:
        s = f"{v:.0f}"
    elif a >= 1:
        s = f"{v:.2f}".rstrip("0").rstrip(".")
    else:
        s = f"{v:.3g}"
    return s + unit


def ratio(c, g):
    if c is None or g is None:
        return ""
    if c == 0 and g == 0:
        return " (=)"
    if c == 0:
        return " (C 0)"
    return f" (×{g / c:.2g})"


# metric key, column title, getter, unit, "lower is better"
def metrics_for(report):
    cfg = report.get("config", {})
    push = (cfg.get("app", {}).get("push", {}).get("rate_per_s") or 0) > 0
    idle = (cfg.get("client", {}).get("rate_per_s") or 0) == 0 and not push
    cols = [
        ("links", "links held", lambda s, v: med(s, "links"), ""),
        ("threads_peak", "OS threads", lambda s, v: med(s, "threads_peak"), ""),
        ("threads_per_link", "threads (C) / goroutines (Go) per link", lambda s, v: own(s, "threads_per_link"), ""),
        ("rss_per_link_bytes", "RSS per link", lambda s, v: med(s, "rss_per_link_bytes"), " B"),
    ]
    if idle:
        cols.append(("cpu_per_link_s", "CPU µs per link-second",
                     lambda s, v: None if med(s, "cpu_per_link_s") is None else med(s, "cpu_per_link_s") * 1e6, ""))
    else:
        cols.append(("cpu_ms_per_1k_msgs", "CPU ms per 1k msgs", lambda s, v: med(s, "cpu_ms_per_1k_msgs"), ""))
        cols.append(("throughput_msgs_s", "delivered/s", lambda s, v: med(s, "throughput_msgs_s"), ""))
    cols.append(("wakeups_per_link_s", "wake-ups per link-s (C: thread wake-ups; Go: goroutine stops)",
                 lambda s, v: own(s, "wakeups_per_link_s"), ""))
    cols.append(("ctxsw", "kernel context switches per link-s", None, ""))
    if not idle:
        sink = cfg.get("app", {}).get("mode") == "sink"
        lat = "lat_out_us" if push else "lat_in_us" if sink else "lat_rtt_us"
        cols.append((lat + ".p50", lat.replace("_us", "") + " p50", lambda s, v, l=lat: med(s, l, "p50"), " µs"))
        cols.append((lat + ".p99", lat.replace("_us", "") + " p99", lambda s, v, l=lat: med(s, l, "p99"), " µs"))
        cols.append(("msgs_dropped", "dropped", lambda s, v: med(s, "msgs_dropped"), ""))
    cols.append(("links_closed_error", "links closed by error", lambda s, v: med(s, "links_closed_error"), ""))
    return cols


def why(report, rows):
    """Sentences that explain the largest differences, with the figures of this report."""
    out = []
    get = {k: (c, g) for k, c, g in rows}
    tcs = [get[(d, "threads_peak")] for d in DESIGNS if (d, "threads_peak") in get]
    tcs = [(c, g) for c, g in tcs if c and g]
    if tcs and all(c > 4 * g for c, g in tcs):
        cs, gs = [c for c, _ in tcs], [g for _, g in tcs]
        out.append(f"**threads**: the C ports run {fmt(min(cs))}–{fmt(max(cs))} OS threads (a thread "
                   f"per goroutine of the seed), the Go originals {fmt(min(gs))}–{fmt(max(gs))}: "
                   f"goroutines share GOMAXPROCS threads plus the runtime's few (sysmon, the "
                   f"netpoller, GC workers).")
    for d in DESIGNS:
        wc, wg = get.get((d, "wakeups_per_link_s"), (None, None))
        xc, xg = get.get((d, "ctxsw"), (None, None))
        if xc is not None and xg is not None and xc > 3 * xg and xc > 1:
            out.append(f"**{d}, wake-ups**: {fmt(xc)} kernel context switches per link-second in C, "
                       f"{fmt(xg)} in Go. In C every deadline is a ppoll timeout and every wake-up a "
                       f"kernel switch of that link's thread; in Go a deadline is a runtime timer and a "
                       f"wake-up a goroutine switch in user space ({fmt(wg)} goroutine stops — parks and "
                       f"system calls — per link-second, against {fmt(wc)} thread wake-ups in C): the kernel sees only the "
                       f"few threads that run them.")
        elif xc is not None and xg is not None and xg > 3 * xc and xg > 0.05:
            out.append(f"**{d}, wake-ups**: {fmt(xg)} kernel context switches per link-second in Go, "
                       f"{fmt(xc)} in C. Here the C port's threads sleep in the kernel with nothing to "
                       f"time (long deadlines, no traffic), while the Go process keeps a few threads "
                       f"busy for itself (sysmon, timers, GC): a fixed cost, spread over the links.")
        rc, rg = get.get((d, "rss_per_link_bytes"), (None, None))
        hc, hg = get.get((d, "links"), (None, None))
        same_links = hc and hg and abs(hc - hg) <= 0.05 * hc
        if same_links and rc and rg and (rc > 2 * rg or rg > 2 * rc):
            out.append(f"**{d}, memory**: {fmt(rc, ' B')} per link in C, {fmt(rg, ' B')} in Go: a C link "
                       f"holds its threads' stacks (64 KiB reserved, a few KiB touched) and wslay's "
                       f"buffers, a Go link its goroutines' stacks (2–8 KiB, grown on demand) and channels.")
        for lat in ("lat_rtt_us.p50", "lat_out_us.p50", "lat_in_us.p50"):
            lc, lg = get.get((d, lat), (None, None))
            if lc and lg and lg > 3 * lc:
                out.append(f"**{d}, latency**: {lat.split('.')[0]} p50 {fmt(lc, ' µs')} in C, "
                           f"{fmt(lg, ' µs')} in Go. A reply waits in sendCh until the link's loop comes "
                           f"back to its send phase. In C the loop's thread wakes the app's consumer and "
                           f"the kernel lets the woken thread run at once (wake-up preemption), so the "
                           f"reply is often queued before the loop looks; Go puts the woken consumer in "
                           f"its P's runnext and keeps running the loop, which finds sendCh empty and goes "
                           f"back to its read: the reply waits for that read to end (the next message, "
                           f"or the deadline) — the seed's own flaw, shown whole.")
        ec, eg = get.get((d, "links_closed_error"), (None, None))
        torn = torn_frames(report, "go:" + d)
        if eg and eg > (ec or 0) and torn:
            out.append(f"**{d}, links closed by error**: {fmt(eg)} in Go against {fmt(ec or 0)} in C. "
                       f"In the Go original {torn} reads had their deadline fire inside a frame (the "
                       f"first on a link tears a real frame, later ones the misread stream): gobwas "
                       f"drops the bytes read and the next read parses the middle of a frame as a "
                       f"header — a protocol error that closes the link. The C port tears frames the "
                       f"same way (its reads follow Go's, docs/seed-fidelity.md) but its threads wake "
                       f"at other moments; with read_keeps_partial = 1 it keeps them.")
        if hc is not None and hg is not None and hg > hc * 1.05:
            lim = limit_reached(report, d)
            if (ec or 0) > 0 and (eg or 0) > 0:
                why = (f"both lose links to frames torn by their read deadlines (links closed by "
                       f"error: {fmt(ec)} in C, {fmt(eg)} in Go): which links a deadline catches "
                       f"mid-frame is a matter of when each runtime's threads wake")
            elif lim:
                # said as the run says it: a C port whose polling threads take both cores
                # leaves new handshakes to time out, which no Go run meets
                why = f"the C port's run: {lim}"
            elif (ec or 0) > 0:
                why = f"the C port closed {fmt(ec)} links on errors, the Go original none"
            else:
                why = "neither run says why: compare their links.* counts"
            out.append(f"**{d}, links held**: the C port held {fmt(hc)}, the Go original {fmt(hg)} ({why}).")
    return out


def correct_sampled_wakeups(report):
    """Reports of linkbench-go before it scaled the scheduler's samples (no
    go.runtime_window.sched_samples): its wake-ups were every 8th goroutine transition
    (gTrackingPeriod, Go 1.19). Scale them, and say so. Returns whether it did."""
    fixed = False
    gos = [r.get("server", {}).get("go", {}).get("runtime_window") for r in report.get("runs", [])]
    gos = [g for g in gos if g is not None]
    # scaled already: it says so (sched_samples), or every count is a multiple of 8 (the
    # binaries between the two changes scaled without saying; an unscaled count is one in
    # eight times a multiple of 8, so over several runs this does not mistake one)
    if not gos or any("sched_samples" in g for g in gos) or all(g.get("sched_events", 1) % 8 == 0 for g in gos):
        return False
    for run in report.get("runs", []):
        rw = run.get("server", {}).get("go", {}).get("runtime_window")
        if rw is None:
            continue
        m = run.get("metrics", {})
        if isinstance(m.get("wakeups_per_link_s"), (int, float)):
            m["wakeups_per_link_s"] *= 8
            fixed = True
    if fixed:
        for v, s in report.get("summary", {}).items():
            if v.startswith("go:") and isinstance(s.get("wakeups_per_link_s"), dict):
                for k in ("median", "min", "max"):
                    if isinstance(s["wakeups_per_link_s"].get(k), (int, float)):
                        s["wakeups_per_link_s"][k] *= 8
    return fixed


def section(path):
    report = json.load(open(path))
    scaled = correct_sampled_wakeups(report)
    summary = report.get("summary", {})
    name = report.get("scenario", {}).get("name") or os.path.basename(os.path.dirname(os.path.dirname(path)))
    m = re.search(r"/links_(\d+)/", path)
    links = int(m.group(1)) if m else report.get("config", {}).get("links")
    pairs = [d for d in DESIGNS if "go:" + d in summary]
    if not pairs:
        return ""
    cols = metrics_for(report)
    lines = [f"### {name} ({fmt(links)} links)", ""]
    lines.append("| design | " + " | ".join(c[1] for c in cols) + " |")
    lines.append("| --- | " + " | ".join("---" for _ in cols) + " |")
    rows = []
    for d in pairs:
        cells = []
        for key, title, get, unit in cols:
            if key == "ctxsw":
                c, g = ctxsw_per_link_s(report, d), ctxsw_per_link_s(report, "go:" + d)
            else:
                c = get(summary[d], d) if d in summary else None
                g = get(summary["go:" + d], "go:" + d)
            rows.append(((d, key), c, g))
            cells.append(f"{fmt(c, unit)} → {fmt(g, unit)}{ratio(c, g)}")
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    if any(d not in summary for d in pairs):
        lines.append("")
        lines.append("– : not run (" + ", ".join(d for d in pairs if d not in summary)
                     + ": Go original only; the scenario's description says why).")
    lines.append("")
    # the report's name below the results root (<scenario>/<stamp>[/links_N]/report.json):
    # never a path of the machine that ran it
    parts = os.path.normpath(path).split(os.sep)
    keep = 4 if len(parts) >= 4 and parts[-2].startswith("links_") else 3
    lines.append("C port → Go original, medians over repetitions (× = Go / C). Report: `"
                 + "/".join(parts[-keep:]) + "`; valid: " + str(report.get("valid")).lower() + ".")
    if scaled:
        lines.append("Go wake-ups: the scheduler's samples of this report × 8 (it times every 8th "
                     "goroutine transition; linkbench-go now reports them scaled).")
    lim = []
    for run in report.get("runs", []):
        l = run.get("flags", {}).get("limit_reached")
        if l:
            lim.append(l)
    if lim:
        lines.append("")
        lines.append("Limits reached: " + "; ".join(sorted(set(lim))) + ".")
    w = why(report, [(k, c, g) for k, c, g in rows])
    if w:
        lines.append("")
        lines.extend("- " + s for s in w)
    lines.append("")
    return "\n".join(lines)


def main(argv):
    doc = None
    if len(argv) > 2 and argv[1] == "--doc":
        doc, argv = argv[2], argv[2:]
    paths = argv[1:]
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    text = "\n".join(s for s in (section(p) for p in paths) if s)
    if doc is None:
        print(text)
        return 0
    old = open(doc).read()
    if BEGIN not in old or END not in old:
        print(f"{doc}: no {BEGIN} … {END} markers", file=sys.stderr)
        return 2
    head, rest = old.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    open(doc, "w").write(head + BEGIN + "\n" + text + "\n" + END + tail)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
