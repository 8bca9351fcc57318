// report.go — snapshots of the Go server's counters and the report document it sends to the run, in the names of the C server's (sim/srv/internal/srv_report.h).
package main

import "syscall"

type groupSnap struct{ live, peak, spawned int64 }

type snap struct {
	t, cpu            int64
	link, app         groupSnap
	ctxVol, ctxInvol  int64
	status            procStatus
	threadsPeak       int64
	rt                rtStats
	drops             [dropCount]int64
	dropsTotal        int64
	counters          [cCount]int64
	closes            [causeCount]int64
	appc              map[string]int64
	heldNow, unsent   int64
	attached, closedN int64
	fdPauses, hsFail  int64
	acceptErr         int64
	frames            map[string]int64
	logs              map[string]int64
}

func takeSnap(a *app, acc *acceptor) snap {
	var s snap
	s.t = nanotime()
	s.cpu = cpuProcessNs()
	s.link = groupSnap{groupLink.live.Load(), groupLink.peak.Load(), groupLink.spawned.Load()}
	s.app = groupSnap{groupApp.live.Load(), groupApp.peak.Load(), groupApp.spawned.Load()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.ctxVol, s.ctxInvol = ru.Nvcsw, ru.Nivcsw
	}
	s.status = readStatus()
	s.threadsPeak = threadPeak.Load()
	s.rt = readRuntime()
	for i := range s.drops {
		s.drops[i] = host.drops[i].Load()
		s.dropsTotal += s.drops[i]
	}
	for i := range s.counters {
		s.counters[i] = host.counters[i].Load()
	}
	s.frames = map[string]int64{
		"mid_frame_read_timeouts": frameStats.midFrameTimeouts.Load(),
		"partial_writes":          frameStats.partialWrites.Load(),
		"pings_answered":          frameStats.pingsAnswered.Load(),
		"frames_in":               frameStats.framesIn.Load(),
		"frames_out":              frameStats.framesOut.Load(),
		"conn_reads":              frameStats.connReads.Load(),
		"conn_writes":             frameStats.connWrites.Load(),
	}
	s.logs = map[string]int64{
		"info": logCounts.info.Load(), "warn": logCounts.warn.Load(), "error": logCounts.error.Load(),
		"written": logCounts.written.Load(), "suppressed": logCounts.suppressed.Load(),
	}
	if acc != nil {
		s.fdPauses, s.hsFail, s.acceptErr = acc.fdLimitPauses.Load(), acc.handshakesFailed.Load(), acc.acceptErrors.Load()
	}
	if a == nil {
		s.appc = map[string]int64{}
		return s
	}
	st := &a.st
	for i := range s.closes {
		s.closes[i] = st.closes[i].Load()
	}
	s.heldNow, s.unsent = st.heldNow.Load(), st.unsentAtClose.Load()
	s.attached, s.closedN = st.linksAttached.Load(), st.linksClosed.Load()
	s.appc = map[string]int64{
		"links_attached": s.attached, "attach_failed": st.attachFailed.Load(),
		"attach_thread_limit": st.attachThreadLimit.Load(), "links_refused": st.linksRefused.Load(),
		"links_closed": s.closedN, "links_released": st.linksReleased.Load(),
		"closed_twice": st.closedTwice.Load(), "recv_msgs": st.recvMsgs.Load(),
		"recv_bytes": st.recvBytes.Load(), "recv_no_hdr": st.recvNoHdr.Load(),
		"seq_gaps": st.seqGaps.Load(), "seq_backwards": st.seqBackwards.Load(),
		"sent": st.sent.Load(), "echoed": st.echoed.Load(), "pushed": st.pushed.Load(),
		"sink_freed": st.sinkFreed.Load(), "seq_missing": st.seqMissing.Load(),
		"seq_late": st.seqLate.Load(), "seq_dup": st.seqDup.Load(),
		"send_eagain": st.sendEagain.Load(), "held_peak": st.heldPeak.Load(),
		"variant_drops": st.variantDrops.Load(), "idle_closed": st.idleClosed.Load(),
		"reaper_runs": st.reaperRuns.Load(), "lat_in_overflow": st.latOverflow.Load(),
		"pushes_late": st.pushesLate.Load(), "push_lag_max_ns": st.pushLagMaxNs.Load(),
	}
	return s
}

type obj = map[string]interface{}

func namedDrops(d [dropCount]int64) obj {
	o := obj{}
	for i, n := range dropNames {
		o[n] = d[i]
	}
	return o
}

func namedCloses(c [causeCount]int64) obj {
	o := obj{}
	for i, n := range causeNames {
		o[n] = c[i]
	}
	return o
}

// reportJSON: the C server's report document (srv_report_json) from the snapshots at
// start (base), warm-up end (m0), window end (m1), the driver's end (acct) and after
// the stop (fin). What only the kernel or the Go runtime can say about Go is marked:
// groups.*.cpu_ns are absent (goroutines move between threads: no CPU per group),
// groups.link.wakeups is the Go scheduler's count (goroutines run after being made
// runnable, every goroutine of the process), threads are OS threads from /proc, and
// vsock.* (the C server's own system call counts) is absent.
func reportJSON(base, m0, m1, acct, fin snap, latIn *hist) obj {
	app := obj{}
	for k, v := range fin.appc {
		app[k] = v
	}
	app["held_at_stop"] = fin.heldNow
	app["unsent_at_close"] = fin.unsent + fin.heldNow // held at stop: unsent, as in C
	windowRT := obj{
		"sched_events":         m1.rt.schedEvents - m0.rt.schedEvents,
		"sched_samples":        m1.rt.schedSamples - m0.rt.schedSamples,
		"gc_cycles":            m1.rt.gcCycles - m0.rt.gcCycles,
		"goroutines":           m1.rt.goroutines,
		"stack_bytes":          m1.rt.stackBytes,
		"go_memory_bytes":      m1.rt.goMemBytes,
		"heap_alloc_bytes":     m1.rt.allocBytes - m0.rt.allocBytes,
		"stack_bytes_base":     base.rt.stackBytes,
		"go_memory_bytes_base": base.rt.goMemBytes,
	}
	frames := obj{}
	for k, v := range fin.frames {
		frames[k] = v
	}
	logs := obj{}
	for k, v := range fin.logs {
		logs[k] = v - base.logs[k]
	}
	lim := interface{}(nil)
	if fin.fdPauses > 0 {
		lim = "EMFILE"
	} else if fin.appc["links_refused"] > 0 {
		lim = "ENOSPC"
	}
	threadsPeak := m1.threadsPeak
	if threadsPeak < m1.status.threads {
		threadsPeak = m1.status.threads
	}
	return obj{
		"event":          "report",
		"window_ns":      m1.t - m0.t,
		"cpu_process_ns": m1.cpu - m0.cpu,
		"groups": obj{
			"link": obj{"live": m1.link.live, "peak": m1.link.peak, "spawned": fin.link.spawned,
				"spawn_failed": 0, "wakeups": m1.rt.schedEvents - m0.rt.schedEvents},
			"app": obj{"live": m1.app.live, "peak": m1.app.peak, "spawned": fin.app.spawned,
				"spawn_failed": 0},
		},
		"threads_live":          m1.status.threads,
		"threads_peak":          threadsPeak,
		"ctxsw":                 obj{"voluntary": m1.ctxVol - m0.ctxVol, "involuntary": m1.ctxInvol - m0.ctxInvol},
		"drops":                 namedDrops(fin.drops),
		"dropped_at_driver_end": acct.dropsTotal,
		"refused_at_driver_end": acct.unsent,
		"drops_at_driver_end":   namedDrops(acct.drops),
		"closes":                namedCloses(m1.closes),
		"closes_run":            namedCloses(fin.closes),
		"counters":              namedCounters(fin.counters),
		"app":                   app,
		// the window's pushes are what was offered in it (the harness's kept_up rule)
		"app_window": obj{"recv_msgs": m1.appc["recv_msgs"] - m0.appc["recv_msgs"],
			"pushed": m1.appc["pushed"] - m0.appc["pushed"]},
		"app_drain": obj{"recv_msgs": acct.appc["recv_msgs"] - m1.appc["recv_msgs"]},
		"links": obj{
			"held": m1.attached - m1.closedN, "attached": fin.attached,
			"attach_failed": fin.appc["attach_failed"], "thread_limit": 0,
			"refused": fin.appc["links_refused"], "fd_limit_pauses": fin.fdPauses,
			"handshakes_failed": fin.hsFail, "accept_errors": fin.acceptErr, "limit_errno": lim,
		},
		"rss_base_bytes":   base.status.rss,
		"rss_steady_bytes": m1.status.rss,
		"rss_peak_bytes":   m1.status.hwm,
		"lat_in":           latIn.toJSON(),
		"go": obj{
			"runtime_window": windowRT,
			"frames":         frames,
			"log_lines":      logs,
			// an experiment's setting (wsframe.go); 0 in every finding
			"read_buffer_bytes": readBufferBytes,
		},
	}
}

func namedCounters(c [cCount]int64) obj {
	o := obj{}
	for i, n := range counterNames {
		o[n] = c[i]
	}
	return o
}
