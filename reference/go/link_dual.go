// link_dual.go — the seed's current Link (背景: sendLoop + receiveLoop, two goroutines per link), its struct and sendWithRetry from the 协程聚合版本 section; also the passive Link that LinkV5 drives.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// The const block that closes the 非阻塞读版本 code: the Link's defaults (dual, poll,
// and pair's sub-links).
const (
	linkDefaultReadTimeout       = 3 * time.Minute
	linkDefaultWriteTimeout      = 1 * time.Minute
	linkDefaultCloseTimeout      = 2 * time.Second
	linkDefaultWriteBufferSize   = 256
	linkDefaultReadBufferSize    = 256
	linkDefaultInitRetryInterval = 100 * time.Millisecond
	linkDefaultMaxRetryInterval  = 2 * time.Second
	linkDefaultMaxRetries        = 5
)

var ErrLinkClosed = errors.New("link closed")

// Link is the seed's Link struct (协程聚合版本, 第一部分). compressionState is left
// out: no compression is negotiated. h and closeTimeout are the harness's.
type Link struct {
	id   string
	sess sessionInfo
	conn net.Conn

	readTimeout  time.Duration
	writeTimeout time.Duration

	initRetryInterval time.Duration
	maxRetryInterval  time.Duration
	maxRetries        int32

	sendCh    chan []byte
	receiveCh chan []byte

	ctx    context.Context
	cancel context.CancelFunc

	closeOnce sync.Once
	closeErr  error

	mu             sync.RWMutex
	autoClose      bool
	lastActiveTime time.Time

	limitRate int
	limiter   *takeLimiter // go.uber.org/ratelimit's Limiter (seedlib.go)
	logger    *elogComponent

	// 新增：被动模式标志，用于 LinkV5
	passiveMode bool
	reader      *wsReader
	writer      *wsWriter

	h            hooks
	closeTimeout time.Duration // DefaultCloseTimeout, a param here
	sendFail     closeCause    // why sendWithRetry gave up (the loop's cause)
}

type Option func(*Link)

func WithPassiveMode() Option { return func(l *Link) { l.passiveMode = true } }

func WithTimeouts(read, write time.Duration) Option {
	return func(l *Link) { l.readTimeout, l.writeTimeout = read, write }
}

func WithRetry(initInterval, maxInterval time.Duration, maxRetries int32) Option {
	return func(l *Link) {
		l.initRetryInterval, l.maxRetryInterval, l.maxRetries = initInterval, maxInterval, maxRetries
	}
}

func WithBuffer(sendBuf, recvBuf int) Option {
	return func(l *Link) {
		l.sendCh = make(chan []byte, sendBuf)
		l.receiveCh = make(chan []byte, recvBuf)
	}
}

func WithAutoClose(autoClose bool) Option { return func(l *Link) { l.autoClose = autoClose } }

func WithRateLimit(r int) Option {
	return func(l *Link) {
		if r > 0 {
			l.limitRate = r
			l.limiter = newTakeLimiter(r)
		}
	}
}

// withHarness gives the link its slot in the app and its close timeout (not seed).
func withHarness(s *slot, closeTimeout time.Duration) Option {
	return func(l *Link) {
		l.h.id, l.h.slot, l.closeTimeout = s.id, s, closeTimeout
	}
}

// New is the seed's constructor for Link (shown only as called by newPassiveLink):
// built as NewV3 builds LinkV3, and, unless passive, it starts the current design's
// two loops.
func New(parent context.Context, id string, sess sessionInfo, conn net.Conn, opts ...Option) *Link {
	ctx, cancel := context.WithCancel(parent)
	l := &Link{
		id:                id,
		sess:              sess,
		conn:              conn,
		readTimeout:       linkDefaultReadTimeout,
		writeTimeout:      linkDefaultWriteTimeout,
		reader:            newServerSideReader(conn),
		initRetryInterval: linkDefaultInitRetryInterval,
		maxRetryInterval:  linkDefaultMaxRetryInterval,
		maxRetries:        linkDefaultMaxRetries,
		sendCh:            make(chan []byte, linkDefaultWriteBufferSize),
		receiveCh:         make(chan []byte, linkDefaultReadBufferSize),
		ctx:               ctx,
		cancel:            cancel,
		lastActiveTime:    time.Now(),
		logger:            newElog("Link"),
		closeTimeout:      linkDefaultCloseTimeout,
	}
	for _, opt := range opts {
		opt(l)
	}
	l.writer = newServerSideWriter(conn, false)
	if !l.passiveMode {
		goLoops([]*hooks{&l.h}, l.sendLoop, l.receiveLoop)
	}
	return l
}

// Close: the seed does not show Link.Close; written as LinkV2/LinkV4's (close frame
// under DefaultCloseTimeout, then cancel, then close the conn), as the C port does.
func (l *Link) Close() error {
	l.closeOnce.Do(func() {
		_ = l.conn.SetWriteDeadline(time.Now().Add(l.closeTimeout))
		_ = writeServerMessage(l.conn, opClose, nil)
		l.cancel()
		l.closeErr = l.conn.Close()
	})
	return l.closeErr
}

// sendLoop (背景: the current design, in prose): `select { <-ctx.Done(): return;
// payload := <-sendCh: sendWithRetry }`.
func (l *Link) sendLoop() {
	cause := causeShutdown
	defer func() {
		l.h.setCause(cause)
		_ = l.Close()
	}()
	for {
		select {
		case <-l.ctx.Done():
			return
		case payload := <-l.sendCh:
			if !l.sendWithRetry(payload) {
				cause = l.sendFail
				return
			}
		}
	}
}

// receiveLoop: limiter.Take() (uber: waits, never drops), read with the read deadline,
// a time-out goes round again, then `receiveCh <- payload` in a select with ctx.Done():
// a slow app blocks this goroutine and TCP then slows the client.
func (l *Link) receiveLoop() {
	cause := causeShutdown
	defer func() {
		l.h.flushCounts()
		close(l.receiveCh)
		l.h.setCause(cause)
		_ = l.Close()
		l.h.finished()
	}()
	for {
		if l.limiter != nil {
			if l.limiter.l.Tokens() < 1 {
				l.h.rateWait() // this Take will wait (counted as the C port counts it)
			}
			l.limiter.Take(l.ctx)
		}
		_ = l.conn.SetReadDeadline(time.Now().Add(l.readTimeout))
		payload, err := l.reader.Read()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				l.h.readTimeout()
				continue
			}
			var wsErr closedError
			if errors.As(err, &wsErr) && (wsErr.Code == statusNoStatusRcvd || wsErr.Code == statusGoingAway) {
				l.logger.Info("客户端关闭连接", elogString("linkID", l.id), elogAny("userInfo", l.sess.UserInfo()))
			} else {
				l.logger.Error("读取客户端消息失败", elogString("linkID", l.id), elogFieldErr(err))
			}
			cause = readCause(err)
			return
		}
		select {
		case <-l.ctx.Done():
			l.h.drop(dropRecvQueueFull) // the seed loses it on return; counted
			return
		case l.receiveCh <- payload:
			l.h.readable()
		}
	}
}

// sendWithRetry is Link.sendWithRetry (协程聚合版本): a fresh strategy per message,
// UpdateActiveTime after a successful write, only a time-out retried. A retry writes
// the whole frame again, behind whatever part of it the timed-out write left.
func (l *Link) sendWithRetry(payload []byte) bool {
	retryStrategy, _ := newExponentialBackoffRetryStrategy(
		l.initRetryInterval, l.maxRetryInterval, l.maxRetries)
	for {
		select {
		case <-l.ctx.Done():
			return l.giveUp(causeShutdown)
		default:
		}
		_ = l.conn.SetWriteDeadline(time.Now().Add(l.writeTimeout))
		_, err := l.writer.Write(payload)
		if err == nil {
			l.UpdateActiveTime()
			return true
		}
		l.logger.Error("发送消息失败", elogString("linkID", l.id), elogFieldErr(err))
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			count(cWriteTimeouts, 1)
			duration, couldRetry := retryStrategy.Next()
			if !couldRetry {
				return l.giveUp(causeRetrySpent)
			}
			count(cRetries, 1)
			select {
			case <-l.ctx.Done():
				return l.giveUp(causeShutdown)
			case <-time.After(duration):
				continue
			}
		}
		return l.giveUp(causeError)
	}
}

// giveUp: the payload is lost (counted send_failed) and the loop will end with c.
func (l *Link) giveUp(c closeCause) bool {
	l.h.drop(dropSendFailed)
	l.sendFail = c
	return false
}

func (l *Link) UpdateActiveTime() {
	l.mu.Lock()
	if l.ctx.Err() == nil {
		l.lastActiveTime = time.Now()
	}
	l.mu.Unlock()
}

// TryCloseIfIdle: Link's is not shown; LinkV2/V3/V4 all have this one.
func (l *Link) TryCloseIfIdle(timeout time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx.Err() != nil {
		return true
	}
	if !l.autoClose || time.Since(l.lastActiveTime) <= timeout {
		return false
	}
	l.h.setCause(causeIdle)
	if err := l.Close(); err != nil {
		l.logger.Error("关闭空闲连接失败", elogString("linkID", l.id), elogFieldErr(err))
	}
	return true
}

// seedSend is the Send of Link, LinkV2, LinkV3 and LinkV4 (the same code in each):
//
//	select {
//	case <-l.ctx.Done():  return ErrLinkClosed
//	case l.sendCh <- payload:
//	    if l.ctx.Err() != nil { return ErrLinkClosed }   // 双重检查
//	    return nil
//	}
//
// block false adds `default:` — the app's non-blocking offer, which answers "would
// block" exactly when that select would block (the C port's send contract).
func seedSend(ctx context.Context, sendCh chan []byte, payload []byte, block bool) sendResult {
	if !block {
		select {
		case <-ctx.Done():
			return sendClosed
		case sendCh <- payload:
			if ctx.Err() != nil {
				return sendClosedAfter
			}
			return sendOK
		default:
			count(cSendBackpressure, 1)
			return sendWouldBlock
		}
	}
	select {
	case <-ctx.Done():
		return sendClosed
	case sendCh <- payload:
		if ctx.Err() != nil {
			return sendClosedAfter
		}
		return sendOK
	}
}

// dualOps: the app's side of a dual link.
type dualOps struct{ l *Link }

func (o dualOps) trySend(p []byte) sendResult  { return seedSend(o.l.ctx, o.l.sendCh, p, false) }
func (o dualOps) send(p []byte) sendResult     { return seedSend(o.l.ctx, o.l.sendCh, p, true) }
func (o dualOps) updateActiveTime()            { o.l.UpdateActiveTime() }
func (o dualOps) tryCloseIfIdle(ns int64) bool { return o.l.TryCloseIfIdle(time.Duration(ns)) }
func (o dualOps) sendChLen() int               { return len(o.l.sendCh) }
func (o dualOps) done() <-chan struct{}        { return o.l.ctx.Done() }
func (o dualOps) closeLink(c closeCause) {
	o.l.h.setCause(c)
	_ = o.l.Close()
}

func attachDual(cfg *serverConfig, parent context.Context, s *slot, conn net.Conn) {
	l := New(parent, fmt.Sprint(s.id), sessionInfo{fmt.Sprint(s.id)}, conn,
		withHarness(s, cfg.ms("close_timeout_ms")),
		WithTimeouts(cfg.ms("read_timeout_ms"), cfg.ms("write_timeout_ms")),
		WithRetry(cfg.ms("retry_init_ms"), cfg.ms("retry_max_ms"), int32(cfg.p["retry_max"])),
		WithBuffer(int(cfg.p["send_queue_len"]), int(cfg.p["recv_queue_len"])),
		WithAutoClose(cfg.Common.AutoClose),
		WithRateLimit(int(cfg.Common.RateLimitPerS)),
		func(l *Link) { s.bind(dualOps{l}, l.receiveCh) })
	_ = l
}
