// seedlib.go — the smallest stand-ins for the seed's libraries that Debian lacks: ekit's retry, uber's ratelimit, ego's elog; and the monotonic clock.
package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync/atomic"
	"time"
	_ "unsafe" // go:linkname

	"golang.org/x/time/rate"
)

// nanotime is the runtime's CLOCK_MONOTONIC in ns: the clock of the driver's wire
// timestamps (sim/link/wire.h), read through the vDSO like the C server's rt_now().
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// ---------------------------------------------------------------- ekit retry

// retryStrategy is ekit's retry.Strategy.
type retryStrategy interface {
	Next() (time.Duration, bool)
}

// exponentialBackoff is ekit's ExponentialBackoffRetryStrategy: initial interval,
// doubled on every Next, capped at max (sticky once reached); after maxRetries calls
// (when > 0) Next answers false, and it never resets: one strategy made before a loop
// is spent for the loop's whole life (the seed's LinkV2/V4 flaw).
type exponentialBackoff struct {
	initial, max       time.Duration
	maxRetries         int32
	retries            int32
	maxIntervalReached atomic.Bool
}

func newExponentialBackoffRetryStrategy(initial, max time.Duration, maxRetries int32) (*exponentialBackoff, error) {
	if initial <= 0 {
		return nil, fmt.Errorf("ekit: 无效的间隔时间 %d, 预期值应大于 0", initial)
	}
	if initial > max {
		return nil, fmt.Errorf("ekit: 最大重试间隔的时间 [%d] 应大于等于初始重试的间隔时间 [%d] ", max, initial)
	}
	return &exponentialBackoff{initial: initial, max: max, maxRetries: maxRetries}, nil
}

func (s *exponentialBackoff) Next() (time.Duration, bool) {
	retries := atomic.AddInt32(&s.retries, 1)
	if s.maxRetries > 0 && retries > s.maxRetries {
		return 0, false
	}
	if s.maxIntervalReached.Load() {
		return s.max, true
	}
	interval := s.initial * time.Duration(math.Pow(2, float64(retries-1)))
	// overflowed, or past the cap
	if interval <= 0 || interval > s.max {
		s.maxIntervalReached.Store(true)
		return s.max, true
	}
	return interval, true
}

// ---------------------------------------------------------------- uber ratelimit

// takeLimiter stands for go.uber.org/ratelimit's Limiter (Take blocks until the next
// slot, 1/rate apart, with a slack of 10 slots after an idle period) on top of
// x/time/rate: a bucket of 11 tokens (the slack plus the current slot), refilled at
// the rate, and Wait. Differences (docs/go-reference.md): uber spaces takes evenly
// once the slack is used, x/time/rate does too (a token per 1/rate), but Wait also
// honours ctx, which uber's Take does not: the link's close can end the wait.
type takeLimiter struct{ l *rate.Limiter }

const uberSlack = 10

func newTakeLimiter(perSecond int) *takeLimiter {
	return &takeLimiter{l: rate.NewLimiter(rate.Limit(perSecond), uberSlack+1)}
}

// Take waits for the next slot; ctx stands in for the conn close that would end a
// goroutine blocked in uber's Take in the seed's gateway.
func (t *takeLimiter) Take(ctx context.Context) time.Time {
	_ = t.l.Wait(ctx)
	return time.Now()
}

// ---------------------------------------------------------------- ego elog

// elogComponent stands for ego's *elog.Component (zap underneath): every call builds
// the structured line the seed asks for, as zap's encoder would, and counts it by
// level; the line is written only with LINKBENCH_LOG set (at most logBurstPerS lines a
// second, like the C server's link_host_log), otherwise dropped after formatting. The
// formatting is the cost the seed pays on every log call (a Warn per dropped message
// in poll, hybrid and pair); the writing is the gateway's I/O, not the design's.
type elogComponent struct{ name string }

type elogField struct {
	key string
	val interface{}
}

var logCounts struct{ info, warn, error, written, suppressed atomic.Int64 }

// elogOff: the design's log param is 0 (no line is formatted, as in the C ports).
var elogOff atomic.Bool

const logBurstPerS = 20

var (
	logSink      io.Writer = io.Discard
	logWindow    atomic.Int64
	logInWindow  atomic.Int64
	egoLoggerSet = os.Getenv("LINKBENCH_LOG") != "" && os.Getenv("LINKBENCH_LOG") != "0"
)

func init() {
	if egoLoggerSet {
		logSink = os.Stderr
	}
}

func newElog(component string) *elogComponent { return &elogComponent{name: component} }

func elogString(k, v string) elogField                    { return elogField{k, v} }
func elogInt(k string, v int) elogField                   { return elogField{k, v} }
func elogAny(k string, v interface{}) elogField           { return elogField{k, v} }
func elogFieldErr(err error) elogField                    { return elogField{"error", err} }
func (c *elogComponent) Info(msg string, f ...elogField)  { c.log(&logCounts.info, "info", msg, f) }
func (c *elogComponent) Warn(msg string, f ...elogField)  { c.log(&logCounts.warn, "warn", msg, f) }
func (c *elogComponent) Error(msg string, f ...elogField) { c.log(&logCounts.error, "error", msg, f) }

func (c *elogComponent) log(n *atomic.Int64, level, msg string, fields []elogField) {
	if elogOff.Load() {
		return
	}
	n.Add(1)
	var b strings.Builder
	fmt.Fprintf(&b, `{"lv":%q,"ts":%d,"comp":%q,"msg":%q`, level, time.Now().UnixNano(), c.name, msg)
	for _, f := range fields {
		fmt.Fprintf(&b, ",%q:%q", f.key, fmt.Sprint(f.val))
	}
	b.WriteString("}\n")
	if logSink == io.Discard {
		return
	}
	sec := nanotime() / int64(time.Second)
	if w := logWindow.Load(); w != sec && logWindow.CompareAndSwap(w, sec) {
		logInWindow.Store(0)
	}
	if logInWindow.Add(1) > logBurstPerS {
		logCounts.suppressed.Add(1)
		return
	}
	logCounts.written.Add(1)
	io.WriteString(logSink, b.String())
}

// sessionInfo stands for the gateway's session.Session (UserInfo in log lines).
type sessionInfo struct{ id string }

func (s sessionInfo) ID() string            { return s.id }
func (s sessionInfo) UserInfo() interface{} { return s.id }
