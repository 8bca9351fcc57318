// main.go — linkbench-go: the seed's five Go designs as a server child of `linkbench run --variant go:<design>`, speaking the C server's pipe protocol (sim/srv/srv_main.h).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// The run starts this program instead of its own server child when a variant is
// spelled go:<design>: commands on fd 3, events on fd 4, one JSON document per line,
// exactly as the C server (sim/srv/srv_main.h), so the run drives, times and accounts a Go
// design like any other variant. `linkbench-go --params` prints the designs' params.
const (
	ctrlFD   = 3
	reportFD = 4
)

func init() {
	// Die with the run (PR_SET_PDEATHSIG: init runs on the main thread, whose parent
	// is the run). The pipe's EOF would also stop us, but only after a clean stop.
	const prSetPdeathsig = 1
	syscall.RawSyscall(syscall.SYS_PRCTL, prSetPdeathsig, uintptr(syscall.SIGKILL), 0)
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--params" {
		printParams()
		return
	}
	if len(os.Args) > 1 {
		fmt.Fprintln(os.Stderr, "usage: linkbench-go [--params]  (started by `linkbench run --variant go:<design>` with its pipes on fds 3 and 4)")
		os.Exit(2)
	}
	os.Exit(serve())
}

type pipeOut struct {
	mu sync.Mutex
	f  *os.File
}

func (p *pipeOut) send(v interface{}) {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(obj{"event": "error", "message": "report: " + err.Error()})
	}
	p.mu.Lock()
	p.f.Write(append(b, '\n'))
	p.mu.Unlock()
}

func (p *pipeOut) fail(format string, args ...interface{}) int {
	p.send(obj{"event": "error", "message": fmt.Sprintf(format, args...)})
	return 1
}

// readLines turns the control pipe into a channel of lines, closed at EOF.
func readLines(f *os.File) <-chan string {
	ch := make(chan string, 16)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}

// pin sets the CPU mask of every thread there is now; threads Go makes later are
// cloned from these and inherit it.
func pin(cpus []int) error {
	var mask [16]uint64
	for _, c := range cpus {
		if c < 0 || c >= 1024 {
			return fmt.Errorf("cpu %d out of range", c)
		}
		mask[c/64] |= 1 << (c % 64)
	}
	tids, _ := filepath.Glob("/proc/self/task/*")
	for _, t := range tids {
		tid, _ := strconv.Atoi(filepath.Base(t))
		_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, uintptr(tid), unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask[0])))
		if e != 0 {
			return e
		}
	}
	return nil
}

func serve() int {
	out := &pipeOut{f: os.NewFile(reportFD, "report")}
	if out.f == nil {
		fmt.Fprintln(os.Stderr, "linkbench-go: fd 4 is not open (start it through `linkbench run --variant go:<design>`)")
		return 2
	}
	signal.Ignore(syscall.SIGINT, syscall.SIGPIPE)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}

	lines := readLines(os.NewFile(ctrlFD, "ctrl"))
	var first string
	select {
	case l, ok := <-lines:
		if !ok {
			return out.fail("no configuration from the parent")
		}
		first = l
	case <-time.After(30 * time.Second):
		return out.fail("no configuration from the parent")
	}
	cfg, err := parseConfig([]byte(first))
	if err != nil {
		return out.fail("%v", err)
	}
	if cfg.ParentPid > 0 && os.Getppid() != cfg.ParentPid {
		return 1 // the run died before PR_SET_PDEATHSIG took effect
	}
	if len(cfg.Pin) > 0 {
		if err := pin(cfg.Pin); err != nil {
			return out.fail("pin: sched_setaffinity: %v", err)
		}
		// as if started under taskset: Go sizes GOMAXPROCS from the affinity mask at
		// start, which was not pinned yet (two Ps time-slicing one CPU would delay a
		// goroutine between two reads by a whole slice)
		runtime.GOMAXPROCS(len(cfg.Pin))
	}
	maxMsgBytes = cfg.Common.MaxMsgBytes

	linkCtx, stopLinks := context.WithCancel(context.Background())
	defer stopLinks()
	a := newApp(cfg, linkCtx)
	a.start()
	acc, err := listen(cfg, a)
	if err != nil {
		return out.fail("listen on %s:%d: %v", cfg.Addr, cfg.Port, err)
	}
	samplerStop := make(chan struct{})
	go sampleThreads(samplerStop)
	base := takeSnap(nil, nil)
	out.send(obj{"event": "ready", "port": acc.port(), "pid": os.Getpid()})

	m0 := takeSnap(a, acc)
	var m1, acct snap
	var warm *hist
	started, ended, acctTaken := false, false, false
	windowStart := func() {
		warm = a.latIn()
		groupLink.resetPeak()
		groupApp.resetPeak()
		threadPeak.Store(readStatus().threads)
		m0 = takeSnap(a, acc)
		started = true
	}
	// "window START END": the window's edges as CLOCK_MONOTONIC instants (the driver's
	// own window), taken here at those times; "measure" and "end" take them at once.
	var pauseEnd, startAt, endAt <-chan time.Time
	at := func(t int64) <-chan time.Time { return time.After(time.Duration(t - nanotime())) }
loop:
	for {
		select {
		case <-term:
			break loop
		case <-pauseEnd:
			a.setService(cfg.App.ServiceNs, false) // back to the scenario's service time
			pauseEnd = nil
		case <-startAt:
			startAt = nil
			if !started {
				windowStart()
			}
		case <-endAt:
			endAt = nil
			if started && !ended {
				m1 = takeSnap(a, acc)
				ended = true
			}
		case l, ok := <-lines:
			if !ok || l == "stop" {
				break loop
			}
			switch {
			case l == "measure":
				if !started {
					windowStart()
				}
			case strings.HasPrefix(l, "window "):
				var s0, s1 int64
				if n, _ := fmt.Sscanf(l[7:], "%d %d", &s0, &s1); n == 2 && !started {
					startAt, endAt = at(s0), at(s1)
				}
			case l == "end" && !ended:
				started = true
				m1 = takeSnap(a, acc)
				ended = true
			case l == "acct":
				acct = takeSnap(a, acc)
				acctTaken = true
			case l == "sync":
				out.send(obj{"event": "synced"})
			case l == "recheck":
				// the C server takes its census again here (srv_main.h); this one takes
				// none, so nothing it reported can have moved
				out.send(obj{"event": "rechecked", "moved": false})
			case strings.HasPrefix(l, "pause "):
				// the consumers each sleep the pause away on the next message they take
				if ns, err := strconv.ParseInt(l[6:], 10, 64); err == nil && ns > 0 {
					a.setService(ns, true)
					pauseEnd = time.After(time.Duration(ns))
				}
			}
		}
	}
	if !ended {
		m1 = takeSnap(a, acc)
	}
	if !acctTaken {
		acct = m1
	}
	window := histSub(a.latIn(), warm)

	acc.stop()
	a.stop()
	stopAll(a, stopLinks)
	close(samplerStop)
	fin := takeSnap(a, acc)
	rep := reportJSON(base, m0, m1, acct, fin, window)
	rep["pid"] = os.Getpid()
	rep["variant"] = cfg.Variant
	rep["threads_per_link_declared"] = designGoroutines[cfg.design]
	rep["seq_anomalies"] = seqAnomalies(a)
	rep["go"].(obj)["params"] = cfg.p // every param of the design as it ran
	out.send(rep)
	return 0
}

// stopAll is the variant's stop: every link closed (cause shutdown) in parallel, as
// the C server's stop does, every design goroutine and held sender waited for; then
// what each send channel still holds is counted unsent_at_close.
func stopAll(a *app, cancelLinks context.CancelFunc) {
	cancelLinks()
	var wg sync.WaitGroup
	for id := uint32(0); id < a.links(); id++ {
		s := a.slot(id)
		if s == nil || s.ops == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.ops.closeLink(causeShutdown)
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for groupLink.live.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	done := make(chan struct{})
	go func() {
		a.flushWG.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	for id := uint32(0); id < a.links(); id++ {
		if s := a.slot(id); s != nil {
			s.mu.Lock()
			a.countUnsentLocked(s, true)
			s.mu.Unlock()
		}
	}
}

// seqAnomalies: links whose inbound sequence skipped ahead or went back.
func seqAnomalies(a *app) obj {
	first := []obj{}
	n := 0
	for id := uint32(0); id < a.links(); id++ {
		s := a.slot(id)
		if s == nil {
			continue
		}
		s.mu.Lock()
		g, b := s.seqGaps, s.seqBackwards
		s.mu.Unlock()
		if g == 0 && b == 0 {
			continue
		}
		if n++; n <= 32 {
			first = append(first, obj{"link": id, "gaps": g, "backwards": b})
		}
	}
	return obj{"links": n, "first": first}
}
