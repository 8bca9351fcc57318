// link_v3.go — the seed's 非阻塞读版本 (LinkV3, design `poll`): one goroutine, writes first, else a read with a 1 ms deadline; drops when full or rate-limited.
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

// 定义一个非常短的读取超时时间，用于模拟非阻塞读取
const veryShortReadTimeout = time.Millisecond

// LinkV3's defaults are the const block at the end of its code (linkDefault* in
// link_dual.go, which the Link shares).
type LinkV3 struct {
	id   string
	sess sessionInfo

	conn         net.Conn
	readTimeout  time.Duration
	writeTimeout time.Duration

	reader *wsReader
	writer *wsWriter

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
	closeTimeout time.Duration
	pollTimeout  time.Duration // veryShortReadTimeout (a param here)
	sendFail     closeCause
}

type OptionV3 func(*LinkV3)

func WithTimeoutsV3(read, write time.Duration) OptionV3 {
	return func(l *LinkV3) { l.readTimeout, l.writeTimeout = read, write }
}

func WithRetryV3(initInterval, maxInterval time.Duration, maxRetries int32) OptionV3 {
	return func(l *LinkV3) {
		l.initRetryInterval, l.maxRetryInterval, l.maxRetries = initInterval, maxInterval, maxRetries
	}
}

func WithBufferV3(sendBuf, recvBuf int) OptionV3 {
	return func(l *LinkV3) {
		l.sendCh = make(chan []byte, sendBuf)
		l.receiveCh = make(chan []byte, recvBuf)
	}
}

func WithAutoCloseV3(autoClose bool) OptionV3 { return func(l *LinkV3) { l.autoClose = autoClose } }

func WithRateLimitV3(r int) OptionV3 {
	return func(l *LinkV3) {
		if r > 0 {
			l.limiter = rate.NewLimiter(rate.Limit(r), r)
		}
	}
}

func NewV3(parent context.Context, id string, sess sessionInfo, conn net.Conn, opts ...OptionV3) *LinkV3 {
	ctx, cancel := context.WithCancel(parent)
	l := &LinkV3{
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
		logger:            newElog("LinkV3"),
		closeTimeout:      linkDefaultCloseTimeout,
		pollTimeout:       veryShortReadTimeout,
	}

	for _, opt := range opts {
		opt(l)
	}

	l.writer = newServerSideWriter(conn, false)

	goLoops([]*hooks{&l.h}, l.readWriteLoop)

	return l
}

func (l *LinkV3) readWriteLoop() {
	cause := causeShutdown
	defer func() {
		l.h.flushCounts()
		close(l.receiveCh)
		l.h.setCause(cause)
		_ = l.Close()
		l.h.finished()
	}()

	// 初始设置一个常规的 idle read deadline
	_ = l.conn.SetReadDeadline(time.Now().Add(l.readTimeout))

	for {
		// select 保证了对写操作、关闭信号的优先响应。
		// 只有在没有写任务和关闭信号时，才会在 default 分支中尝试"读"。
		select {
		case <-l.ctx.Done():
			return

		case payload, ok := <-l.sendCh:
			if !ok {
				return
			}
			// 执行写操作，该函数内部会处理自己的写超时
			if !l.sendWithRetry(payload) {
				cause = l.sendFail
				return
			}
			// 写操作成功后，重置连接的空闲读超时，因为一次成功的写也代表连接是活跃的
			_ = l.conn.SetReadDeadline(time.Now().Add(l.readTimeout))

		default:
			// 没有写任务，执行非阻塞读
			// 设置一个极短的 deadline，使 Read 操作几乎立即返回
			_ = l.conn.SetReadDeadline(time.Now().Add(l.pollTimeout))
			payload, err := l.reader.Read()

			if err == nil {
				// 成功读取到数据
				if l.limiter != nil && !l.limiter.Allow() {
					l.logger.Warn("接收消息速率超限，消息被丢弃",
						elogString("linkID", l.id),
						elogAny("userInfo", l.sess.UserInfo()))
					l.h.drop(dropRateLimited)
					// 丢弃消息，继续下一次循环
				} else {
					// 使用非阻塞方式发送到 receiveCh，防止业务层阻塞 IO 循环
					select {
					case l.receiveCh <- payload:
						// 成功发送
						l.h.readable()
					default:
						// receiveCh 满了，丢弃消息，这是必要的反压保护
						l.logger.Warn("接收通道已满，消息被丢弃",
							elogString("linkID", l.id),
							elogAny("userInfo", l.sess.UserInfo()))
						l.h.drop(dropRecvQueueFull)
					}
				}
				// 无论消息是发送成功还是被丢弃，读操作成功都代表连接活跃，
				// 重置为一个长的 idle deadline，等待下一次的 select 循环
				_ = l.conn.SetReadDeadline(time.Now().Add(l.readTimeout))
				continue // 继续循环，优先处理可能到来的写任务
			}

			// 检查读取错误
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// 这是预料之中的 "timeout" 错误，意味着当前没有数据可读。
				// 我们忽略这个错误，重置为长 deadline 后继续 select 等待。
				l.h.readTimeout()
			} else {
				// 发生了真正的、不可恢复的错误
				cause = readCause(err)
				var wsErr closedError
				if errors.As(err, &wsErr) && (wsErr.Code == statusNoStatusRcvd || wsErr.Code == statusGoingAway) {
					l.logger.Info("客户端关闭连接",
						elogString("linkID", l.id),
						elogAny("userInfo", l.sess.UserInfo()),
					)
				} else {
					l.logger.Error("从客户端读取消息失败",
						elogString("linkID", l.id),
						elogAny("userInfo", l.sess.UserInfo()),
						elogFieldErr(err),
					)
				}
				return // 退出循环
			}

			// 仅在因 veryShortReadTimeout 导致超时后，才重置为长超时
			_ = l.conn.SetReadDeadline(time.Now().Add(l.readTimeout))
		}
	}
}

func (l *LinkV3) sendWithRetry(payload []byte) bool {
	retryStrategy, _ := newExponentialBackoffRetryStrategy(
		l.initRetryInterval, l.maxRetryInterval, l.maxRetries)

	for i := int32(0); i <= l.maxRetries; i++ {
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

		l.logger.Error("向客户端发消息失败",
			elogString("linkID", l.id),
			elogInt("payloadLen", len(payload)),
			elogFieldErr(err),
		)

		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			count(cWriteTimeouts, 1)
			duration, couldRetry := retryStrategy.Next()
			if !couldRetry {
				break
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

	l.logger.Error("重试次数耗尽，放弃发送",
		elogString("linkID", l.id),
		elogAny("userInfo", l.sess.UserInfo()),
	)
	return l.giveUp(causeRetrySpent)
}

func (l *LinkV3) giveUp(c closeCause) bool {
	l.h.drop(dropSendFailed)
	l.sendFail = c
	return false
}

// Close: LinkV3 cancels first, then writes the close frame.
func (l *LinkV3) Close() error {
	l.closeOnce.Do(func() {
		l.cancel()
		_ = l.conn.SetWriteDeadline(time.Now().Add(l.closeTimeout))
		_ = writeServerMessage(l.conn, opClose, nil)
		l.closeErr = l.conn.Close()
	})
	return l.closeErr
}

func (l *LinkV3) UpdateActiveTime() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx.Err() == nil {
		l.lastActiveTime = time.Now()
	}
}

func (l *LinkV3) TryCloseIfIdle(timeout time.Duration) bool {
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
			elogAny("userInfo", l.sess.UserInfo()),
			elogFieldErr(err))
	}
	return true
}

type v3Ops struct{ l *LinkV3 }

func (o v3Ops) trySend(p []byte) sendResult  { return seedSend(o.l.ctx, o.l.sendCh, p, false) }
func (o v3Ops) send(p []byte) sendResult     { return seedSend(o.l.ctx, o.l.sendCh, p, true) }
func (o v3Ops) updateActiveTime()            { o.l.UpdateActiveTime() }
func (o v3Ops) tryCloseIfIdle(ns int64) bool { return o.l.TryCloseIfIdle(time.Duration(ns)) }
func (o v3Ops) sendChLen() int               { return len(o.l.sendCh) }
func (o v3Ops) done() <-chan struct{}        { return o.l.ctx.Done() }
func (o v3Ops) closeLink(c closeCause) {
	o.l.h.setCause(c)
	_ = o.l.Close()
}

func attachV3(cfg *serverConfig, parent context.Context, s *slot, conn net.Conn) {
	NewV3(parent, fmt.Sprint(s.id), sessionInfo{fmt.Sprint(s.id)}, conn,
		func(l *LinkV3) {
			l.h.id, l.h.slot = s.id, s
			l.closeTimeout = cfg.ms("close_timeout_ms")
			l.pollTimeout = cfg.ms("poll_read_ms")
		},
		WithTimeoutsV3(cfg.ms("read_timeout_ms"), cfg.ms("write_timeout_ms")),
		WithRetryV3(cfg.ms("retry_init_ms"), cfg.ms("retry_max_ms"), int32(cfg.p["retry_max"])),
		WithBufferV3(int(cfg.p["send_queue_len"]), int(cfg.p["recv_queue_len"])),
		WithAutoCloseV3(cfg.Common.AutoClose),
		WithRateLimitV3(int(cfg.Common.RateLimitPerS)),
		func(l *LinkV3) { s.bind(v3Ops{l}, l.receiveCh) })
}
