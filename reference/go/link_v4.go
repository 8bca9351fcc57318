// link_v4.go — the seed's 综合优化版本 (LinkV4, design `hybrid`): one goroutine, up to 8 sends, then one read with a 30 s deadline; drops when the app is slow.
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

// LinkV4's own const block (常量定义).
const (
	v4DefaultReadTimeout             = 30 * time.Second // 合理的读超时，不会太频繁也不会太长
	v4DefaultWriteTimeout            = 10 * time.Second
	v4DefaultCloseTimeout            = 3 * time.Second
	v4DefaultInitRetryInterval       = 100 * time.Millisecond
	v4DefaultMaxRetryInterval        = 2 * time.Second
	v4DefaultMaxRetries        int32 = 3
	v4DefaultWriteBufferSize         = 64
	v4DefaultReadBufferSize          = 64
	v4SendBatch                      = 8 // 批量发送大小，平衡吞吐量和读写公平性
)

type LinkV4 struct {
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

	limiter *rate.Limiter

	logger *elogComponent

	h            hooks
	closeTimeout time.Duration // DefaultCloseTimeout (a param here)
	sendBatch    int           // sendBatch (a param here)
	sendFail     closeCause
}

type OptionV4 func(*LinkV4)

func WithTimeoutsV4(read, write time.Duration) OptionV4 {
	return func(l *LinkV4) { l.readTimeout, l.writeTimeout = read, write }
}

func WithRetryV4(initInterval, maxInterval time.Duration, maxRetries int32) OptionV4 {
	return func(l *LinkV4) {
		l.initRetryInterval, l.maxRetryInterval, l.maxRetries = initInterval, maxInterval, maxRetries
	}
}

func WithBufferV4(sendBuf, recvBuf int) OptionV4 {
	return func(l *LinkV4) {
		l.sendCh = make(chan []byte, sendBuf)
		l.receiveCh = make(chan []byte, recvBuf)
	}
}

func WithAutoCloseV4(autoClose bool) OptionV4 { return func(l *LinkV4) { l.autoClose = autoClose } }

func WithRateLimitV4(qps int) OptionV4 {
	return func(l *LinkV4) {
		if qps > 0 {
			l.limiter = rate.NewLimiter(rate.Limit(qps), qps)
		}
	}
}

func NewV4(parent context.Context, id string, sess sessionInfo, conn net.Conn, opts ...OptionV4) *LinkV4 {
	ctx, cancel := context.WithCancel(parent)
	l := &LinkV4{
		id:                id,
		sess:              sess,
		conn:              conn,
		readTimeout:       v4DefaultReadTimeout,
		writeTimeout:      v4DefaultWriteTimeout,
		initRetryInterval: v4DefaultInitRetryInterval,
		maxRetryInterval:  v4DefaultMaxRetryInterval,
		maxRetries:        v4DefaultMaxRetries,
		sendCh:            make(chan []byte, v4DefaultWriteBufferSize),
		receiveCh:         make(chan []byte, v4DefaultReadBufferSize),
		ctx:               ctx,
		cancel:            cancel,
		lastActiveTime:    time.Now(),
		logger:            newElog("LinkV4"),
		closeTimeout:      v4DefaultCloseTimeout,
		sendBatch:         v4SendBatch,
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

func (l *LinkV4) Close() error {
	l.closeOnce.Do(func() {
		_ = l.conn.SetWriteDeadline(time.Now().Add(l.closeTimeout))
		_ = writeServerMessage(l.conn, opClose, nil)
		l.cancel()
		l.closeErr = l.conn.Close()
	})
	return l.closeErr
}

func (l *LinkV4) readWriteLoop() {
	cause := causeShutdown
	defer func() {
		l.h.flushCounts()
		close(l.receiveCh) // 只由这个goroutine关闭
		l.h.setCause(cause)
		_ = l.Close()
		l.h.finished()
	}()

	// 创建重试策略实例 (kept flaw: one strategy for the loop's whole life)
	retryStrategy, _ := newExponentialBackoffRetryStrategy(
		l.initRetryInterval, l.maxRetryInterval, l.maxRetries)

	for {
		// ------------- 批量发送阶段 -------------
		sendCount := 0
		for sendCount < l.sendBatch {
			select {
			case <-l.ctx.Done():
				return
			case payload := <-l.sendCh:
				if !l.sendWithRetryInternal(payload, retryStrategy) {
					cause = l.sendFail
					return // 发送失败，关闭连接
				}
				sendCount++
			default:
				// 没有更多待发送消息，跳出发送循环
				goto READ_PHASE
			}
		}

	READ_PHASE:
		// ------------- 限流检查 -------------
		if l.limiter != nil && !l.limiter.Allow() {
			// 被限流，跳过本次读取，继续下一轮循环
			l.h.rateWait()
			continue
		}

		// ------------- 读取阶段 -------------
		_ = l.conn.SetReadDeadline(time.Now().Add(l.readTimeout))
		payload, err := l.reader.Read()

		if err != nil {
			// 检查是否为读超时
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				// 读超时是正常的，继续下一轮循环处理发送
				l.h.readTimeout()
				continue
			}
			cause = readCause(err)

			// 检查是否为客户端正常关闭
			var wsErr closedError
			if errors.As(err, &wsErr) &&
				(wsErr.Code == statusNoStatusRcvd || wsErr.Code == statusGoingAway) {
				l.logger.Info("客户端关闭连接",
					elogString("linkID", l.id),
					elogAny("userInfo", l.sess.UserInfo()))
				return
			}

			// 其他错误，记录并关闭连接
			l.logger.Error("读取客户端消息失败",
				elogString("linkID", l.id),
				elogFieldErr(err))
			return
		}

		// ------------- 消息投递阶段 -------------
		// 使用非阻塞发送，防止业务层处理慢导致IO循环阻塞
		select {
		case <-l.ctx.Done():
			l.h.drop(dropRecvQueueFull) // lost on return; counted
			return
		case l.receiveCh <- payload:
			// 成功投递消息
			l.h.readable()
		default:
			// 接收通道已满，丢弃消息并记录警告
			// 这是必要的反压保护，防止内存无限增长和IO循环阻塞
			l.logger.Warn("接收通道已满，消息被丢弃，请检查业务处理能力",
				elogString("linkID", l.id),
				elogAny("userInfo", l.sess.UserInfo()),
				elogInt("payloadSize", len(payload)))
			l.h.drop(dropRecvQueueFull)
		}
	}
}

func (l *LinkV4) sendWithRetryInternal(payload []byte, rs retryStrategy) bool {
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

		l.logger.Error("发送消息失败",
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

func (l *LinkV4) giveUp(c closeCause) bool {
	l.h.drop(dropSendFailed)
	l.sendFail = c
	return false
}

// ---------------- idle ----------------

func (l *LinkV4) UpdateActiveTime() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx.Err() == nil {
		l.lastActiveTime = time.Now()
	}
}

func (l *LinkV4) TryCloseIfIdle(timeout time.Duration) bool {
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

type v4Ops struct{ l *LinkV4 }

func (o v4Ops) trySend(p []byte) sendResult  { return seedSend(o.l.ctx, o.l.sendCh, p, false) }
func (o v4Ops) send(p []byte) sendResult     { return seedSend(o.l.ctx, o.l.sendCh, p, true) }
func (o v4Ops) updateActiveTime()            { o.l.UpdateActiveTime() }
func (o v4Ops) tryCloseIfIdle(ns int64) bool { return o.l.TryCloseIfIdle(time.Duration(ns)) }
func (o v4Ops) sendChLen() int               { return len(o.l.sendCh) }
func (o v4Ops) done() <-chan struct{}        { return o.l.ctx.Done() }
func (o v4Ops) closeLink(c closeCause) {
	o.l.h.setCause(c)
	_ = o.l.Close()
}

func attachV4(cfg *serverConfig, parent context.Context, s *slot, conn net.Conn) {
	NewV4(parent, fmt.Sprint(s.id), sessionInfo{fmt.Sprint(s.id)}, conn,
		func(l *LinkV4) {
			l.h.id, l.h.slot = s.id, s
			l.closeTimeout = cfg.ms("close_timeout_ms")
			l.sendBatch = int(cfg.p["send_batch"])
		},
		WithTimeoutsV4(cfg.ms("read_timeout_ms"), cfg.ms("write_timeout_ms")),
		WithRetryV4(cfg.ms("retry_init_ms"), cfg.ms("retry_max_ms"), int32(cfg.p["retry_max"])),
		WithBufferV4(int(cfg.p["send_queue_len"]), int(cfg.p["recv_queue_len"])),
		WithAutoCloseV4(cfg.Common.AutoClose),
		WithRateLimitV4(int(cfg.Common.RateLimitPerS)),
		func(l *LinkV4) { s.bind(v4Ops{l}, l.receiveCh) })
}
