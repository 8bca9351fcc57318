// push.go — the app model's server push in Go, as sim/app/app_push.c makes it: each link on its own schedule (constant with a seeded phase, or Poisson), late pushes sent late, never skipped.
package main

import (
	"container/heap"
	"encoding/binary"
	"math"
	"time"
)

// Why a schedule per link (app_push.c says it at length): with one ticker for all links
// every push of a period leaves together, and the phase of that tick against a design's
// own deadlines decides its push latency. The generator, seeds and formulas are the C
// ones, so a go: design and its C port get the same pushes at the same moments.

// splitmix64, as app_push.c's rng_next.
func pushRngNext(s *uint64) uint64 {
	*s += 0x9e3779b97f4a7c15
	z := *s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Uniform in (0, 1]: never 0, so -log() is finite.
func pushRngUnit(s *uint64) float64 {
	return (float64(pushRngNext(s)>>11) + 1.0) * (1.0 / 9007199254740992.0)
}

type pushSched struct {
	id   uint32
	rng  uint64
	next int64 // monotonic ns of the next push
}

func (a *app) pushPeriod() int64 {
	v := 1e9 / a.cfg.App.PushPerS
	if v < 1 {
		return 1
	}
	return int64(v + 0.5)
}

// pushFirst: link id's first push not before now (app_push_first).
func (a *app) pushFirst(id uint32, t0, now int64) pushSched {
	s := pushSched{id: id}
	s.rng = a.cfg.App.PushSeed*0x9e3779b97f4a7c15 ^ (uint64(id)+1)*0xd1b54a32d192ed03
	pushRngNext(&s.rng)
	per := a.pushPeriod()
	if a.cfg.App.PushPattern == "poisson" {
		s.next = now + int64(-math.Log(pushRngUnit(&s.rng))*float64(per))
		return s
	}
	phase := int64((pushRngUnit(&s.rng) - 0x1p-53) * float64(per))
	first := t0 + phase
	if first < now {
		first += ((now - first + per - 1) / per) * per
	}
	s.next = first
	return s
}

// pushAdvance: the link's next push after the one just made (app_push_advance).
func (a *app) pushAdvance(s *pushSched) int64 {
	per := a.pushPeriod()
	d := per
	if a.cfg.App.PushPattern == "poisson" {
		d = int64(-math.Log(pushRngUnit(&s.rng)) * float64(per))
	}
	if d < 1 {
		d = 1
	}
	s.next += d
	return s.next
}

type pushHeap []pushSched

func (h pushHeap) Len() int            { return len(h) }
func (h pushHeap) Less(i, j int) bool  { return h[i].next < h[j].next }
func (h pushHeap) Swap(i, j int)       { h[i], h[j] = h[j], h[i] }
func (h *pushHeap) Push(x interface{}) { *h = append(*h, x.(pushSched)) }
func (h *pushHeap) Pop() interface{} {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// pushOne makes link id's push for its scheduled time sched; false when the link is
// gone (it leaves the schedule).
func (a *app) pushOne(id uint32, sched int64) bool {
	s := a.slot(id)
	if s == nil || !s.open.Load() || s.closed.Load() {
		return false
	}
	n := int(a.cfg.App.PushBytes)
	p := make([]byte, n)
	for i := wireHdrBytes; i < n; i++ {
		p[i] = 0xa5
	}
	s.mu.Lock()
	binary.LittleEndian.PutUint32(p[0:], wireMagic)
	binary.LittleEndian.PutUint32(p[4:], wirePush)
	binary.LittleEndian.PutUint32(p[8:], id)
	binary.LittleEndian.PutUint32(p[12:], uint32(n))
	binary.LittleEndian.PutUint64(p[16:], uint64(s.pushSeq))
	s.pushSeq++
	// latency runs from the scheduled time, t_app says when the push was made
	binary.LittleEndian.PutUint64(p[24:], uint64(sched))
	binary.LittleEndian.PutUint64(p[40:], uint64(nanotime()))
	a.st.pushed.Add(1)
	a.offerLocked(s, p)
	s.mu.Unlock()
	return true
}

// New links are seen at the latest after this long (app_push.c's DISCOVER_NS).
const pushDiscoverNs = int64(100 * time.Millisecond)

// pusherMain: every push due by now, in schedule order; one whose link's next push is
// already due too is counted late and still sent. Links join the schedule once
// attached, in id order (one still attaching holds the later ones back until the next
// look), as app__push_main does.
func (a *app) pusherMain() {
	h := &pushHeap{}
	seen := uint32(0)
	t0 := nanotime()
	for {
		now := nanotime()
		for n := a.links(); seen < n; seen++ {
			s := a.slot(seen)
			if s == nil || !s.open.Load() {
				if s == nil || !s.closed.Load() {
					break // still attaching
				}
				continue
			}
			heap.Push(h, a.pushFirst(seen, t0, now))
		}
		for h.Len() > 0 && (*h)[0].next <= now {
			e := &(*h)[0]
			sched := e.next
			if lag := now - sched; lag > a.st.pushLagMaxNs.Load() {
				a.st.pushLagMaxNs.Store(lag) // the pusher is its only writer
			}
			if !a.pushOne(e.id, sched) {
				heap.Pop(h)
				continue
			}
			if a.pushAdvance(e) <= now {
				a.st.pushesLate.Add(1)
			}
			heap.Fix(h, 0)
		}
		wake := now + pushDiscoverNs
		if h.Len() > 0 && (*h)[0].next < wake {
			wake = (*h)[0].next
		}
		if !a.sleepUntil(wake) {
			return
		}
	}
}
