// harness.go — what the harness adds to every seed Link: the C server's counters (drops by reason, closes by cause, events), readiness notices for the app, goroutine accounting.
package main

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"syscall"
)

// Drop reasons, close causes and counters: the names of sim/link/link.h, as the report
// carries them (link_drop_reason_name and friends).
type dropReason int

const (
	dropRecvQueueFull dropReason = iota
	dropRateLimited
	dropSendOverflow
	dropSendFailed
	dropUnsentAtClose
	// a read deadline fired inside the frame: gobwas loses the bytes read so far, and
	// the message with them (the name the C seed ports use for the same loss)
	dropBrokenByDeadline
	dropCount
)

var dropNames = [dropCount]string{"recv_queue_full", "rate_limited", "send_overflow", "send_failed",
	"unsent_at_close", "broken_by_deadline"}

type closeCause int32

const (
	causePeer closeCause = iota
	causeError
	causeIdle
	causeRetrySpent
	causeStall
	causeOverflow
	causeApp
	causeShutdown
	causeCount
)

var causeNames = [causeCount]string{"peer", "error", "idle", "retry_spent", "stall", "overflow", "app", "shutdown"}

type counterKind int

const (
	cRetries counterKind = iota
	cWriteTimeouts
	cReadTimeouts
	cRateWaits
	cReadPauses
	cSendBackpressure
	cCount
)

var counterNames = [cCount]string{"retries", "write_timeouts", "read_timeouts", "rate_waits", "read_pauses", "send_backpressure"}

// host holds the process-wide counters (link_host_impl in C).
var host struct {
	drops    [dropCount]atomic.Int64
	counters [cCount]atomic.Int64
}

// Goroutine groups, the Go side of rt's thread groups: a link group (the designs'
// loops) and an app group (consumers, pusher, reaper, blocked senders).
type goGroup struct {
	live, peak, spawned atomic.Int64
}

var groupLink, groupApp goGroup

func (g *goGroup) enter() {
	g.spawned.Add(1)
	n := g.live.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

func (g *goGroup) exit() { g.live.Add(-1) }

func (g *goGroup) resetPeak() { g.peak.Store(g.live.Load()) }

// hooks is embedded in every seed Link as field h: the link's harness id, its slot in
// the app, the cause of its first close, and counters batched by the loop that owns
// them (read time-outs and rate waits happen thousands of times a second per link in
// poll and pair; they reach the shared atomics in batches so counting is not the cost).
type hooks struct {
	id    uint32
	slot  *slot
	cause atomic.Int32 // 0: none yet; else closeCause+1
	loops atomic.Int32 // design goroutines of this link still running

	pendReadTimeouts, pendRateWaits int64
}

const countBatch = 64

// setCause records why the link closes; the first one wins (Go's closeOnce decides
// which Close runs; this says whose it was).
func (h *hooks) setCause(c closeCause) { h.cause.CompareAndSwap(0, int32(c)+1) }

func (h *hooks) getCause() closeCause {
	c := h.cause.Load()
	if c == 0 {
		return causeShutdown
	}
	return closeCause(c - 1)
}

// readable: a message went into the link's receive channel (or it was closed); the C
// port's queue notifier, so the app's consumers never scan every link.
func (h *hooks) readable() { h.slot.a.readable(h.slot.src) }

// finished: the link is closed and its receive side will get nothing more (C's
// on_closed, exactly once per link).
func (h *hooks) finished() { h.slot.a.onClosed(h.slot, h.getCause()) }

// drop counts a message the design threw away (the C port's link_host_drop).
func (h *hooks) drop(r dropReason) {
	host.drops[r].Add(1)
	if h.slot != nil {
		h.slot.a.st.variantDrops.Add(1)
	}
}

func count(c counterKind, n int64) { host.counters[c].Add(n) }

func (h *hooks) readTimeout() {
	if h.pendReadTimeouts++; h.pendReadTimeouts >= countBatch {
		count(cReadTimeouts, h.pendReadTimeouts)
		h.pendReadTimeouts = 0
	}
}

func (h *hooks) rateWait() {
	if h.pendRateWaits++; h.pendRateWaits >= countBatch {
		count(cRateWaits, h.pendRateWaits)
		h.pendRateWaits = 0
	}
}

func (h *hooks) flushCounts() {
	count(cReadTimeouts, h.pendReadTimeouts)
	count(cRateWaits, h.pendRateWaits)
	h.pendReadTimeouts, h.pendRateWaits = 0, 0
}

// goLoops starts a design's goroutines for the links hs (one link, or both of a pair)
// in place of the seed's `go l.readWriteLoop()`: counted in the link group, and when
// the last of a link's loops returns the app may count what its send channel kept.
func goLoops(hs []*hooks, fns ...func()) {
	for _, h := range hs {
		h.loops.Add(int32(len(fns)))
	}
	for _, fn := range fns {
		groupLink.enter()
		go func(fn func()) {
			defer func() {
				groupLink.exit()
				for _, h := range hs {
					if h != nil && h.loops.Add(-1) == 0 {
						h.slot.a.loopDone(h.slot)
					}
				}
			}()
			fn()
		}(fn)
	}
}

// readCause: why a read error ends a loop. The seed tells a client close (1005/1001)
// from other errors only in its log; like the C port, the peer going away (a close
// frame, EOF, a reset) is cause peer, anything else error.
func readCause(err error) closeCause {
	var ce closedError
	if errors.As(err, &ce) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return causePeer
	}
	if errors.Is(err, net.ErrClosed) {
		return causeShutdown // our own Close: its caller set the cause first
	}
	return causeError
}

// sendResult is what the app's non-blocking offer learns (the C port's send answer).
type sendResult int

const (
	sendOK          sendResult = iota
	sendWouldBlock             // the seed's Send would block: the app holds the message
	sendClosed                 // ErrLinkClosed before the message went in
	sendClosedAfter            // ErrLinkClosed from the double check: it is in sendCh
)

// linkOps is the app's view of one link, whatever the design.
type linkOps interface {
	trySend(p []byte) sendResult
	send(p []byte) sendResult // the seed's blocking Send
	updateActiveTime()
	tryCloseIfIdle(idle int64) bool
	closeLink(c closeCause)
	sendChLen() int
	done() <-chan struct{}
}
