// app.go — the app model of sim/app/app.c in Go: consumers fed by readiness notices (echo or sink, service time), held sends, server push, the idle reaper.
package main

import (
	"context"
	"encoding/binary"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The app is the C server's, goroutine for thread: a pool of `workers` consumers takes
// links that have something to read from a ready list (a link's readiness notice queues
// it once), at most recv_batch messages per turn. In Go every business caller would be
// its own goroutine, so a Send that blocks stalls only that caller: a message the seed's
// Send would block on is held for its link and offered again by a goroutine blocked in
// the real Send (the held message's "caller"), and nothing more is taken from that link
// until its held messages are gone — exactly the C app's rule (sim/app/app.c).

const wireHdrBytes = 48
const wireMagic = 0x4c4b4231
const (
	wireEcho = 1
	wirePush = 2
)

type appStats struct {
	linksAttached, attachFailed, attachThreadLimit, linksRefused      atomic.Int64
	linksClosed, linksReleased, closedTwice                           atomic.Int64
	recvMsgs, recvBytes, recvNoHdr, seqGaps, seqBackwards, seqMissing atomic.Int64
	seqLate, seqDup                                                   atomic.Int64
	sent, echoed, pushed, sinkFreed, sendEagain, heldNow, heldPeak    atomic.Int64
	unsentAtClose, variantDrops, idleClosed, reaperRuns, latOverflow  atomic.Int64
	pushesLate, pushLagMaxNs                                          atomic.Int64
	closes                                                            [causeCount]atomic.Int64
}

type slot struct {
	id    uint32
	idStr string
	a     *app
	ops   linkOps
	src   *source
	open  atomic.Bool
	// set by the link's finished notice (C's on_closed)
	closed      atomic.Bool
	closedCalls atomic.Int64

	mu                    sync.Mutex // guards everything below
	released              bool
	held                  [][]byte
	inflight              bool // a flusher is offering one held message
	flushing              bool
	loopDone, counted     bool
	recvMsgs, dropped     int64
	seqGaps, seqBackwards int64
	nextSeq, seenWin      uint64
	seqStarted            bool
	pushSeq               int64
}

func (s *slot) nheld() int {
	n := len(s.held)
	if s.inflight {
		n++
	}
	return n
}

// source is one receive channel: a link's receiveCh, or a pair's unified channel.
type source struct {
	a      *app
	queued atomic.Bool
	events atomic.Int64
	ch     chan []byte
	pch    chan Message
	sa     *slot
	sb     atomic.Pointer[slot] // pair: the second link, once it joined
	// serving worker only
	eof     bool
	blocker *slot
}

const (
	recvOK = iota
	recvEmpty
	recvEOF
)

func (src *source) recv() ([]byte, *slot, int) {
	if src.pch == nil {
		select {
		case p, ok := <-src.ch:
			if !ok {
				return nil, nil, recvEOF
			}
			return p, src.sa, recvOK
		default:
			return nil, nil, recvEmpty
		}
	}
	select {
	case m, ok := <-src.pch:
		if !ok {
			return nil, nil, recvEOF
		}
		if m.LinkID == src.sa.idStr {
			return m.Payload, src.sa, recvOK
		}
		if b := src.sb.Load(); b != nil && m.LinkID == b.idStr {
			return m.Payload, b, recvOK
		}
		return m.Payload, nil, recvOK
	default:
		return nil, nil, recvEmpty
	}
}

// bind: the link's ops and its own receive channel (dual, batch, poll, hybrid).
func (s *slot) bind(ops linkOps, ch chan []byte) {
	s.ops = ops
	s.src = &source{a: s.a, ch: ch, sa: s}
}

// bindPair: a pair's first link, whose source is the unified channel.
func (s *slot) bindPair(ops linkOps, ch chan Message) {
	s.ops = ops
	s.src = &source{a: s.a, pch: ch, sa: s}
}

// bindShared: a pair's second link joins its first link's source.
func (s *slot) bindShared(ops linkOps, src *source) {
	s.ops = ops
	s.src = src
	src.sb.Store(s)
}

type worker struct {
	mu   sync.Mutex
	hist *hist
}

type app struct {
	cfg       *serverConfig
	attachFn  func(*serverConfig, context.Context, *slot, net.Conn)
	linkCtx   context.Context // parent of every link's ctx (cancelled at stop)
	slots     []atomic.Pointer[slot]
	nextID    atomic.Uint32
	ready     chan *source
	ctx       context.Context
	cancel    context.CancelFunc
	workers   []*worker
	wg        sync.WaitGroup // workers, pusher, reaper
	flushWG   sync.WaitGroup
	serviceNs atomic.Int64
	sleepSvc  atomic.Bool
	st        appStats
}

func newApp(cfg *serverConfig, linkCtx context.Context) *app {
	a := &app{cfg: cfg, linkCtx: linkCtx}
	a.attachFn = map[string]func(*serverConfig, context.Context, *slot, net.Conn){
		"dual": attachDual, "batch": attachV2, "poll": attachV3, "hybrid": attachV4, "pair": attachPair,
	}[cfg.design]
	a.slots = make([]atomic.Pointer[slot], cfg.App.MaxLinks)
	a.ready = make(chan *source, cfg.App.MaxLinks+1)
	a.ctx, a.cancel = context.WithCancel(context.Background())
	for i := 0; i < cfg.App.Workers; i++ {
		a.workers = append(a.workers, &worker{hist: newHist()})
	}
	a.serviceNs.Store(cfg.App.ServiceNs)
	return a
}

func (a *app) goApp(fn func()) {
	groupApp.enter()
	a.wg.Add(1)
	go func() {
		defer func() {
			groupApp.exit()
			a.wg.Done()
		}()
		fn()
	}()
}

func (a *app) start() {
	for _, w := range a.workers {
		w := w
		a.goApp(func() { a.workerMain(w) })
	}
	if a.cfg.App.PushPerS > 0 {
		a.goApp(a.pusherMain)
	}
	if a.cfg.App.IdleTimeoutNs > 0 {
		a.goApp(a.reaperMain)
	}
}

// stop ends the consumers, the pusher and the reaper (not the held senders: they end
// when their links close).
func (a *app) stop() {
	a.cancel()
	a.wg.Wait()
}

func (a *app) slot(id uint32) *slot {
	if int(id) >= len(a.slots) {
		return nil
	}
	return a.slots[id].Load()
}

func (a *app) links() uint32 {
	n := a.nextID.Load()
	if int(n) > len(a.slots) {
		n = uint32(len(a.slots))
	}
	return n
}

// attach gives an upgraded connection to the design as the next link.
func (a *app) attach(conn net.Conn) {
	id := a.nextID.Add(1) - 1
	if int(id) >= len(a.slots) {
		a.st.linksRefused.Add(1)
		conn.Close()
		return
	}
	s := &slot{id: id, idStr: strconv.FormatUint(uint64(id), 10), a: a}
	a.slots[id].Store(s)
	a.attachFn(a.cfg, a.linkCtx, s, conn)
	s.open.Store(true)
	a.st.linksAttached.Add(1)
}

// ---------------------------------------------------------------- notices from links

func (a *app) readable(src *source) {
	if src == nil {
		return
	}
	src.events.Add(1)
	if !src.queued.Swap(true) {
		a.ready <- src // capacity max_links: never full (a source is queued once)
	}
}

func (a *app) onClosed(s *slot, c closeCause) {
	if s.closedCalls.Add(1) > 1 {
		a.st.closedTwice.Add(1)
		return
	}
	a.st.closes[c].Add(1)
	a.st.linksClosed.Add(1)
	s.closed.Store(true)
	a.readable(s.src)
}

func (a *app) loopDone(s *slot) {
	s.mu.Lock()
	s.loopDone = true
	a.countUnsentLocked(s, false)
	s.mu.Unlock()
}

// countUnsentLocked: once the link's loops are gone, the app has let it go and no held
// sender is inside its Send, nothing can enter or leave its send channel: what it
// holds was never written (unsent_at_close), observed rather than inferred.
func (a *app) countUnsentLocked(s *slot, force bool) {
	if s.counted || s.ops == nil || (!force && (!s.loopDone || !s.released || s.flushing)) {
		return
	}
	s.counted = true
	if n := int64(s.ops.sendChLen()); n > 0 {
		host.drops[dropUnsentAtClose].Add(n)
		a.st.variantDrops.Add(n)
		s.dropped += n
	}
}

// ---------------------------------------------------------------- sending

func (a *app) heldPushLocked(s *slot, p []byte) {
	s.held = append(s.held, p)
	now := a.st.heldNow.Add(1)
	for {
		peak := a.st.heldPeak.Load()
		if now <= peak || a.st.heldPeak.CompareAndSwap(peak, now) {
			break
		}
	}
	if !s.flushing {
		s.flushing = true
		groupApp.enter()
		a.flushWG.Add(1)
		go a.flusher(s)
	}
}

func (a *app) heldDropAllLocked(s *slot) {
	n := int64(len(s.held))
	s.held = nil
	a.st.unsentAtClose.Add(n)
	a.st.heldNow.Add(-n)
}

// offerLocked offers p to s (behind what s already holds). True when p was held.
func (a *app) offerLocked(s *slot, p []byte) bool {
	if s.released || s.closed.Load() || s.ops == nil {
		a.st.unsentAtClose.Add(1)
		return false
	}
	if s.nheld() > 0 {
		a.heldPushLocked(s, p)
		return true
	}
	switch s.ops.trySend(p) {
	case sendOK, sendClosedAfter: // closed after: it is in sendCh, counted with it
		a.st.sent.Add(1)
		s.ops.updateActiveTime()
	case sendWouldBlock:
		a.st.sendEagain.Add(1)
		a.heldPushLocked(s, p)
		return true
	default:
		a.st.unsentAtClose.Add(1)
	}
	return false
}

// flusher is the blocked caller of the seed's Send: it offers s's held messages in
// order, each with the blocking Send, until none is left.
func (a *app) flusher(s *slot) {
	defer func() {
		groupApp.exit()
		a.flushWG.Done()
	}()
	for {
		s.mu.Lock()
		if len(s.held) == 0 || s.released {
			s.flushing = false
			a.countUnsentLocked(s, false)
			s.mu.Unlock()
			a.readable(s.src) // a consumer waiting for this link takes again
			return
		}
		p := s.held[0]
		s.held[0] = nil
		s.held = s.held[1:]
		s.inflight = true
		s.mu.Unlock()
		r := s.ops.send(p)
		s.mu.Lock()
		s.inflight = false
		a.st.heldNow.Add(-1)
		if r == sendOK || r == sendClosedAfter {
			a.st.sent.Add(1)
			s.ops.updateActiveTime()
		} else {
			a.st.unsentAtClose.Add(1)
		}
		s.mu.Unlock()
	}
}

// ---------------------------------------------------------------- consuming

func (a *app) serveTime(t0 int64) {
	for {
		d := a.serviceNs.Load()
		left := d - (nanotime() - t0)
		if left <= 0 || a.ctx.Err() != nil {
			return
		}
		if !a.sleepSvc.Load() {
			continue // busy: burn the CPU the message costs
		}
		if left > int64(10*time.Millisecond) {
			left = int64(10 * time.Millisecond)
		}
		time.Sleep(time.Duration(left))
	}
}

// process is sim/app/app.c's process(): account the message on its link, then echo or
// sink it. True when its echo was held (the source then waits for that link).
func (a *app) process(w *worker, src *source, s *slot, p []byte) bool {
	now := nanotime()
	a.st.recvMsgs.Add(1)
	a.st.recvBytes.Add(int64(len(p)))
	hasHdr := len(p) >= wireHdrBytes && binary.LittleEndian.Uint32(p[0:]) == wireMagic &&
		binary.LittleEndian.Uint32(p[12:]) == uint32(len(p))
	var seq uint64
	if !hasHdr {
		a.st.recvNoHdr.Add(1)
	} else {
		seq = binary.LittleEndian.Uint64(p[16:])
		if tSched := int64(binary.LittleEndian.Uint64(p[24:])); tSched > 0 {
			w.mu.Lock()
			ok := w.hist.record(now - tSched)
			w.mu.Unlock()
			if !ok {
				a.st.latOverflow.Add(1)
			}
		}
	}
	if s == nil { // a message no link claims: never lose one silently
		a.st.unsentAtClose.Add(1)
		return false
	}
	s.mu.Lock()
	s.recvMsgs++
	if hasHdr {
		a.seqLocked(s, seq)
	}
	if !s.released {
		s.ops.updateActiveTime()
	}
	s.mu.Unlock()

	a.serveTime(now)
	if a.cfg.App.Mode == "sink" {
		a.st.sinkFreed.Add(1)
		return false
	}
	if hasHdr { // keep the driver's timestamps; say when the app took it
		binary.LittleEndian.PutUint64(p[40:], uint64(now))
	}
	a.st.echoed.Add(1)
	s.mu.Lock()
	held := a.offerLocked(s, p)
	s.mu.Unlock()
	if held {
		src.blocker = s
	}
	return held
}

// seqLocked: the per-link sequence bookkeeping of sim/app/app.c (holes, late, duplicates).
func (a *app) seqLocked(s *slot, seq uint64) {
	if seq > s.nextSeq && s.seqStarted {
		a.st.seqMissing.Add(int64(seq - s.nextSeq))
	}
	if seq > s.nextSeq {
		s.seqGaps++
		a.st.seqGaps.Add(1)
	}
	if !s.seqStarted || seq >= s.nextSeq {
		shift := uint64(64)
		if s.seqStarted {
			shift = seq + 1 - s.nextSeq
		}
		if shift >= 64 {
			s.seenWin = 1
		} else {
			s.seenWin = s.seenWin<<shift | 1
		}
		s.nextSeq = seq + 1
	} else {
		d := s.nextSeq - 1 - seq
		s.seqBackwards++
		a.st.seqBackwards.Add(1)
		if d < 64 && s.seenWin>>d&1 != 0 {
			a.st.seqDup.Add(1)
		} else if d < 64 {
			s.seenWin |= 1 << d
			a.st.seqMissing.Add(-1)
			a.st.seqLate.Add(1)
		}
	}
	s.seqStarted = true
}

// waits: the source takes nothing while the link its last echo went to still holds
// messages, nor (one link) while its own link holds any.
func (a *app) waits(src *source) bool {
	if b := src.blocker; b != nil {
		b.mu.Lock()
		w := b.nheld() > 0 && !b.released && !b.closed.Load()
		b.mu.Unlock()
		if w {
			return true
		}
		src.blocker = nil
	}
	if src.pch != nil || src.sa.closed.Load() {
		return false
	}
	src.sa.mu.Lock()
	w := src.sa.nheld() > 0
	src.sa.mu.Unlock()
	return w
}

func (a *app) release(s *slot) {
	s.mu.Lock()
	if s.released {
		s.mu.Unlock()
		return
	}
	a.heldDropAllLocked(s)
	s.released = true
	a.countUnsentLocked(s, false)
	s.mu.Unlock()
	a.st.linksReleased.Add(1)
}

// serve one source taken from the ready list; this worker owns it until queued is
// cleared.
func (a *app) serve(w *worker, src *source) {
	for {
		ev0 := src.events.Load()
		n := 0
		waits := a.waits(src)
		for n < a.cfg.App.RecvBatch && !src.eof && !waits {
			p, s, st := src.recv()
			if st == recvEmpty {
				break
			}
			if st == recvEOF {
				src.eof = true
				break
			}
			waits = a.process(w, src, s, p) && !(s != nil && s.closed.Load())
			n++
		}
		// A closed link is let go once its messages are out: at the channel's end, or
		// at once for a pair's link (its partner's source goes on).
		done := true
		for _, s := range []*slot{src.sa, src.sb.Load()} {
			if s == nil {
				continue
			}
			if s.closed.Load() && (src.eof || src.pch != nil) {
				a.release(s)
			}
			s.mu.Lock()
			done = done && s.released
			s.mu.Unlock()
		}
		if done && src.eof {
			return // stays queued: a finished source is never served again
		}
		if n == a.cfg.App.RecvBatch { // more may remain: give the others their turn
			a.ready <- src
			return
		}
		src.queued.Store(false)
		// a notice that came after ev0 found queued set and did not queue src
		if src.events.Load() == ev0 || src.queued.Swap(true) {
			return
		}
	}
}

func (a *app) workerMain(w *worker) {
	for {
		select {
		case <-a.ctx.Done():
			return
		case src := <-a.ready:
			a.serve(w, src)
		}
	}
}

// ---------------------------------------------------------------- push and reaper

// sleepUntil waits for monotonic time t (a runtime timer); false when the app stops.
func (a *app) sleepUntil(t int64) bool {
	d := t - nanotime()
	if d <= 0 {
		return a.ctx.Err() == nil
	}
	tm := time.NewTimer(time.Duration(d))
	defer tm.Stop()
	select {
	case <-a.ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}

// reaperMain calls TryCloseIfIdle on every open link each period.
func (a *app) reaperMain() {
	period := a.cfg.App.ReapPeriodNs
	next := nanotime() + period
	for a.sleepUntil(next) {
		now := nanotime()
		next += period
		if next <= now {
			next += ((now-next)/period + 1) * period
		}
		a.st.reaperRuns.Add(1)
		links := a.links()
		for id := uint32(0); id < links; id++ {
			s := a.slot(id)
			if s == nil || !s.open.Load() {
				continue
			}
			s.mu.Lock()
			closed := false
			if !s.released && !s.closed.Load() {
				closed = s.ops.tryCloseIfIdle(a.cfg.App.IdleTimeoutNs)
			}
			s.mu.Unlock()
			if closed {
				a.st.idleClosed.Add(1)
			}
		}
	}
}

// setService changes the service time while running (fault pause_app).
func (a *app) setService(ns int64, sleep bool) {
	a.sleepSvc.Store(sleep)
	a.serviceNs.Store(ns)
}

func (a *app) latIn() *hist {
	h := newHist()
	for _, w := range a.workers {
		w.mu.Lock()
		h.merge(w.hist)
		w.mu.Unlock()
	}
	return h
}
