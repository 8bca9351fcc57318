// link_v2.go — the seed's 批量发送版本 (LinkV2, design `batch`): one goroutine, up to 16 sends, then one read with a 1 s deadline; blocking hand-off.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// LinkV2's own const block.
const (
	v2DefaultReadTimeout             = time.Second
	v2DefaultWriteTimeout            = 5 * time.Second
	v2DefaultCloseTimeout            = 3 * time.Second
	v2DefaultInitRetryInterval       = 100 * time.Millisecond
	v2DefaultMaxRetryInterval        = 2 * time.Second
	v2DefaultMaxRetries        int32 = 5
	v2DefaultWriteBufferSize         = 32
	v2DefaultReadBufferSize          = 32
	v2SendBatch                      = 16 // 批量发送大小，平衡吞吐量和读写公平性
)

type LinkV2 struct {
	id   string
	sess sessionInfo

	conn         net.Conn
	reader       *wsReader
	writer       *wsWriter
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

	limitQPS int
	limiter  *rate.Limiter

	logger *elogComponent

	h            hooks
	closeTimeout time.Duration // DefaultCloseTimeout (a param here)
	sendBatch    int           // sendBatch (a param here)
	nonblocking  bool          // nonblocking_delivery: the seed's proposed 增加非阻塞投递 (not LinkV2's code)
	sendFail     closeCause
}

type OptionV2 func(*LinkV2)

func WithTimeoutsV2(read, write time.Duration) OptionV2 {
	return func(l *LinkV2) { l.readTimeout, l.writeTimeout = read, write }
}

func WithRetryV2(initInterval, maxInterval time.Duration, maxRetries int32) OptionV2 {
	return func(l *LinkV2) {
		l.initRetryInterval, l.maxRetryInterval, l.maxRetries = initInterval, maxInterval, maxRetries
	}
}

func WithBufferV2(sendBuf, recvBuf int) OptionV2 {
	return func(l *LinkV2) {
		l.sendCh = make(chan []byte, sendBuf)
		l.receiveCh = make(chan []byte, recvBuf)
	}
}

func WithAutoCloseV2(autoClose bool) OptionV2 { return func(l *LinkV2) { l.autoClose = autoClose } }

// qps >0 时启用，burst 默认等于 qps
func WithRateLimitV2(qps int) OptionV2 {
	return func(l *LinkV2) {
		if qps > 0 {
			l.limitQPS = qps
			l.limiter = rate.NewLimiter(rate.Limit(qps), qps)
		}
	}
}

func NewV2(parent context.Context, id string, sess sessionInfo, conn net.Conn, opts ...OptionV2) *LinkV2 {
	ctx, cancel := context.WithCancel(parent)
	l := &LinkV2{
		id:                id,
		sess:              sess,
		conn:              conn,
		readTimeout:       v2DefaultReadTimeout,
		writeTimeout:      v2DefaultWriteTimeout,
		initRetryInterval: v2DefaultInitRetryInterval,
		maxRetryInterval:  v2DefaultMaxRetryInterval,
		maxRetries:        v2DefaultMaxRetries,
		sendCh:            make(chan []byte, v2DefaultWriteBufferSize),
		receiveCh:         make(chan []byte, v2DefaultReadBufferSize),
		ctx:               ctx,
		cancel:            cancel,
		lastActiveTime:    time.Now(),
		logger:            newElog("LinkV2"),
		closeTimeout:      v2DefaultCloseTimeout,
		sendBatch:         v2SendBatch,
	}
	for _, opt := range opts {
		opt(l)
	}
	l.reader = newServerSideReader(conn)
	l.writer = newServerSideWriter(conn, false)

	// 启动单协程
	goLoops([]*hooks{&l.h}, l.readWriteLoop)
	return l
}

func (l *LinkV2) Close() error {
	l.closeOnce.Do(func() {
		_ = l.conn.SetWriteDeadline(time.Now().Add(l.closeTimeout))
		_ = writeServerMessage(l.conn, opClose, nil)
		l.cancel()
		l.closeErr = l.conn.Close()
	})
	return l.closeErr
}

func (l *LinkV2) readWriteLoop() {
	cause := causeShutdown
	defer func() {
		l.h.flushCounts()
		close(l.receiveCh)
		l.h.setCause(cause)
		_ = l.Close()
		l.h.finished()
	}()

	// Kept flaw: ONE strategy for the loop's whole life; ekit's Next never resets.
	retryStrategy, _ := newExponentialBackoffRetryStrategy(
		l.initRetryInterval, l.maxRetryInterval, l.maxRetries)

	for {
		// ------------- 批量发送 -------------
		for i := 0; i < l.sendBatch; i++ {
			var outbound []byte
			select {
			case <-l.ctx.Done():
				return
			case outbound = <-l.sendCh:
			default:
				// 没可发送的
				outbound = nil
			}

			if outbound == nil {
				break // 立刻进入读
			}

			if !l.sendWithRetryInternal(outbound, retryStrategy) {
				cause = l.sendFail
				return
			}
		}

		// ------------- 限流（非阻塞） -------------
		if l.limiter != nil && !l.limiter.Allow() {
			// 本次读取被限流，直接进入下一轮循环（仍旧有机会发送）
			l.h.rateWait()
			continue
		}

		// ------------- 读取 -------------
		_ = l.conn.SetReadDeadline(time.Now().Add(l.readTimeout))
		payload, err := l.reader.Read()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				// 读超时，让循环回到顶部处理 send
				l.h.readTimeout()
				continue
			}
			cause = readCause(err)

			var wsErr closedError
			if errors.As(err, &wsErr) &&
				(wsErr.Code == statusNoStatusRcvd || wsErr.Code == statusGoingAway) {
				l.logger.Info("客户端关闭连接",
					elogString("linkID", l.id),
					elogAny("userInfo", l.sess.UserInfo()))
				return
			}

			l.logger.Error("读取客户端消息失败",
				elogString("linkID", l.id),
				elogFieldErr(err))
			return
		}

		// 投递给业务
		if l.nonblocking {
			// Harness addition, off by default: the seed's proposal for zero loss
			// (推荐使用: 基于版本1进行改进，增加非阻塞投递), written as LinkV4's hand-off.
			// LinkV2 has no log line for a drop (it never dropped): counted only.
			select {
			case <-l.ctx.Done():
				l.h.drop(dropRecvQueueFull) // lost on return; counted
				return
			case l.receiveCh <- payload:
				l.h.readable()
			default:
				l.h.drop(dropRecvQueueFull)
			}
			continue
		}
		select {
		case <-l.ctx.Done():
			l.h.drop(dropRecvQueueFull) // lost on return; counted
			return
		case l.receiveCh <- payload:
			l.h.readable()
		}
	}
}

func (l *LinkV2) sendWithRetryInternal(payload []byte, rs retryStrategy) bool {
	for {
		select {
		case <-l.ctx.Done():
			return l.giveUp(causeShutdown)
		default:
		}

		_ = l.conn.SetWriteDeadline(time.Now().Add(l.writeTimeout))
		_, err := l.writer.Write(payload)
		if err == nil {
			return true
		}

		l.logger.Error("发送消息失败，准备重试",
			elogString("linkID", l.id),
			elogInt("payloadLen", len(payload)),
			elogFieldErr(err))

		// 只对超时做重试
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			count(cWriteTimeouts, 1)
			d, ok := rs.Next()
			if !ok {
				l.logger.Error("重试次数耗尽，放弃发送",
					elogString("linkID", l.id))
				return l.giveUp(causeRetrySpent)
			}
			count(cRetries, 1)
			select {
			case <-l.ctx.Done():
				return l.giveUp(causeShutdown)
			case <-time.After(d):
				continue
			}
		}
		return l.giveUp(causeError)
	}
}

func (l *LinkV2) giveUp(c closeCause) bool {
	l.h.drop(dropSendFailed)
	l.sendFail = c
	return false
}

// ---------------- idle ----------------

func (l *LinkV2) UpdateActiveTime() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx.Err() == nil {
		l.lastActiveTime = time.Now()
	}
}

func (l *LinkV2) TryCloseIfIdle(timeout time.Duration) bool {
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
		l.logger.Error("关闭空闲连接失败",
			elogString("linkID", l.id),
			elogFieldErr(err))
	}
	return true
}

type v2Ops struct{ l *LinkV2 }

func (o v2Ops) trySend(p []byte) sendResult  { return seedSend(o.l.ctx, o.l.sendCh, p, false) }
func (o v2Ops) send(p []byte) sendResult     { return seedSend(o.l.ctx, o.l.sendCh, p, true) }
func (o v2Ops) updateActiveTime()            { o.l.UpdateActiveTime() }
func (o v2Ops) tryCloseIfIdle(ns int64) bool { return o.l.TryCloseIfIdle(time.Duration(ns)) }
func (o v2Ops) sendChLen() int               { return len(o.l.sendCh) }
func (o v2Ops) done() <-chan struct{}        { return o.l.ctx.Done() }
func (o v2Ops) closeLink(c closeCause) {
	o.l.h.setCause(c)
	_ = o.l.Close()
}

func attachV2(cfg *serverConfig, parent context.Context, s *slot, conn net.Conn) {
	NewV2(parent, fmt.Sprint(s.id), sessionInfo{fmt.Sprint(s.id)}, conn,
		func(l *LinkV2) {
			l.h.id, l.h.slot = s.id, s
			l.closeTimeout = cfg.ms("close_timeout_ms")
			l.sendBatch = int(cfg.p["send_batch"])
			l.nonblocking = cfg.p["nonblocking_delivery"] != 0
		},
		WithTimeoutsV2(cfg.ms("read_timeout_ms"), cfg.ms("write_timeout_ms")),
		WithRetryV2(cfg.ms("retry_init_ms"), cfg.ms("retry_max_ms"), int32(cfg.p["retry_max"])),
		WithBufferV2(int(cfg.p["send_queue_len"]), int(cfg.p["recv_queue_len"])),
		WithAutoCloseV2(cfg.Common.AutoClose),
		WithRateLimitV2(int(cfg.Common.RateLimitPerS)),
		func(l *LinkV2) { s.bind(v2Ops{l}, l.receiveCh) })
}
