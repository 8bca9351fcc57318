// procstat.go — what the kernel and the Go runtime say about this process: CPU, context switches, threads, memory, goroutine scheduling.
package main

import (
	"bufio"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// cpuProcessNs is CLOCK_PROCESS_CPUTIME_ID (every thread, exited ones too): the C
// server's cpu_process_ns.
func cpuProcessNs() int64 {
	var ts syscall.Timespec
	const clockProcessCputimeID = 2
	_, _, e := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockProcessCputimeID, uintptr(unsafe.Pointer(&ts)), 0)
	if e != 0 {
		return 0
	}
	return ts.Nano()
}

type procStatus struct {
	rss, hwm int64
	threads  int64
}

// readStatus: VmRSS, VmHWM, Threads from /proc/self/status.
func readStatus() procStatus {
	var s procStatus
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return s
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fs[0], 10, 64)
		switch k {
		case "VmRSS":
			s.rss = n * 1024
		case "VmHWM":
			s.hwm = n * 1024
		case "Threads":
			s.threads = n
		}
	}
	return s
}

// threadPeak: OS threads of the process, sampled every 50 ms (Go creates threads on
// its own; there is no hook to count them as rt does).
var threadPeak atomic.Int64

func sampleThreads(stop <-chan struct{}) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		n := readStatus().threads
		for {
			p := threadPeak.Load()
			if n <= p || threadPeak.CompareAndSwap(p, n) {
				break
			}
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// runtime metrics read at each snapshot.
var rtSamples = []metrics.Sample{
	{Name: "/sched/latencies:seconds"},     // one count per goroutine scheduled to run
	{Name: "/sched/goroutines:goroutines"}, // live goroutines
	{Name: "/gc/cycles/total:gc-cycles"},   // GC cycles
	{Name: "/memory/classes/heap/stacks:bytes"},
	{Name: "/memory/classes/total:bytes"},
	{Name: "/gc/heap/allocs:bytes"},
}

const gTrackingPeriod = 8

type rtStats struct {
	schedSamples, schedEvents, goroutines, gcCycles, stackBytes, goMemBytes, allocBytes int64
}

func readRuntime() rtStats {
	metrics.Read(rtSamples)
	var r rtStats
	if h := rtSamples[0].Value; h.Kind() == metrics.KindFloat64Histogram {
		for _, c := range h.Float64Histogram().Counts {
			r.schedSamples += int64(c)
		}
	}
	// The runtime times every gTrackingPeriod-th (8th) transition of a goroutine out of
	// running (runtime/runtime2.go, Go 1.19): each sample stands for 8 wake-ups.
	r.schedEvents = r.schedSamples * gTrackingPeriod
	u := func(i int) int64 {
		if rtSamples[i].Value.Kind() == metrics.KindUint64 {
			return int64(rtSamples[i].Value.Uint64())
		}
		return 0
	}
	r.goroutines, r.gcCycles, r.stackBytes, r.goMemBytes, r.allocBytes = u(1), u(2), u(3), u(4), u(5)
	return r
}

func itoa(n int) string { return strconv.Itoa(n) }
