// link_v5.go — the seed's 协程聚合版本 (LinkV5, design `pair`): one goroutine serves two passive Links with 1 ms read polls and a 20 ms idle ticker.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// LinkV5's loop constants (its code: time.Millisecond reads, a 20 ms ticker, a
// unified channel of 128).
const (
	v5ReadPoll        = time.Millisecond
	v5IdleTick        = 20 * time.Millisecond
	v5UnifiedQueueLen = 128
)

// Message 统一的消息结构
type Message struct {
	LinkID  string // 来源Link的ID
	Payload []byte // 消息内容
}

var (
	ErrLinkV5Closed       = errors.New("LinkV5: 连接组已关闭")
	ErrSubLinkInV5Closed  = errors.New("LinkV5: 组内子连接已关闭")
	ErrTargetLinkNotFound = errors.New("LinkV5: 未找到目标连接ID")
)

// LinkV5 使用单个goroutine管理两个Link.
//
// Harness change: NewLinkV5 takes both connections at once; here links arrive one at
// a time, so the pair is made with its first link and starts at once, and the next
// link joins it (join) — the C port's pairing by attach order. Until B joins, linkB is
// nil and the loop serves A alone; if A closes alone first the pair is sealed and the
// next link starts a new one.
type LinkV5 struct {
	linkA *Link
	linkB *Link

	unifiedReceiveCh chan Message

	ctx    context.Context
	cancel context.CancelFunc

	linkAAlive atomic.Bool
	linkBAlive atomic.Bool

	closeOnce sync.Once
	logger    *elogComponent

	joinMu       sync.Mutex
	sealed       bool
	b            atomic.Pointer[Link] // linkB, published by join
	writeTimeout time.Duration        // the sub-links' DefaultWriteTimeout (a param)
	readPoll     time.Duration        // time.Millisecond (a param)
	idleTick     time.Duration        // 20 ms (a param)
}

// newPassiveLink 辅助函数，确保创建用于LinkV5的Link是正确的被动模式
func newPassiveLink(parent context.Context, sess sessionInfo, conn net.Conn, opts ...Option) *Link {
	return New(parent, sess.ID(), sess, conn, append(opts, WithPassiveMode())...)
}

// NewLinkV5 创建LinkV5实例 (with its first link; see join).
func NewLinkV5(parent context.Context, sessA sessionInfo, connA net.Conn, unified int, optsA ...Option) *LinkV5 {
	ctx, cancel := context.WithCancel(parent)
	lv5 := &LinkV5{
		unifiedReceiveCh: make(chan Message, unified),
		ctx:              ctx,
		cancel:           cancel,
		logger:           newElog("LinkV5"),
	}
	lv5.linkA = newPassiveLink(ctx, sessA, connA, optsA...)
	lv5.linkAAlive.Store(true)
	return lv5
}

func (lv5 *LinkV5) start() { goLoops([]*hooks{&lv5.linkA.h}, lv5.readWriteLoop) }

// join makes the link the pair's B; false when the pair is sealed (A closed alone).
func (lv5 *LinkV5) join(sessB sessionInfo, connB net.Conn, optsB ...Option) (*Link, bool) {
	lv5.joinMu.Lock()
	defer lv5.joinMu.Unlock()
	if lv5.sealed || lv5.b.Load() != nil {
		return nil, false
	}
	b := newPassiveLink(lv5.ctx, sessB, connB, optsB...)
	b.h.loops.Add(1) // the pair's goroutine serves it from now on
	lv5.linkB = nil  // read through lv5.b only
	lv5.linkBAlive.Store(true)
	lv5.b.Store(b)
	return b, true
}

// Send 将消息路由到正确的子连接。block false: the app's non-blocking offer (the same
// select with `default:`).
func (lv5 *LinkV5) Send(msg Message, block bool) sendResult {
	var targetLink *Link
	var isAlive *atomic.Bool

	b := lv5.b.Load()
	if msg.LinkID == lv5.linkA.id {
		targetLink = lv5.linkA
		isAlive = &lv5.linkAAlive
	} else if b != nil && msg.LinkID == b.id {
		targetLink = b
		isAlive = &lv5.linkBAlive
	} else {
		return sendClosed // ErrTargetLinkNotFound
	}

	if !isAlive.Load() {
		return sendClosed // ErrSubLinkInV5Closed
	}

	if !block {
		select {
		case <-lv5.ctx.Done():
			return sendClosed // ErrLinkV5Closed
		case targetLink.sendCh <- msg.Payload:
			return sendOK
		default:
			count(cSendBackpressure, 1)
			return sendWouldBlock
		}
	}
	select {
	case <-lv5.ctx.Done():
		return sendClosed // ErrLinkV5Closed
	case targetLink.sendCh <- msg.Payload:
		return sendOK
	}
}

// Close 关闭整个LinkV5
func (lv5 *LinkV5) Close() {
	lv5.closeOnce.Do(func() {
		lv5.cancel()
	})
}

// --- 核心循环 ---

func (lv5 *LinkV5) readWriteLoop() {
	defer func() {
		lv5.logger.Info("LinkV5 读写循环退出")
		lv5.joinMu.Lock()
		lv5.sealed = true // no B joins a finished loop
		lv5.joinMu.Unlock()
		b := lv5.b.Load()
		// 确保底层连接和通道都被正确关闭
		lv5.linkA.h.setCause(causeShutdown)
		_ = lv5.linkA.Close()
		if b != nil {
			b.h.setCause(causeShutdown)
			_ = b.Close()
		}
		close(lv5.unifiedReceiveCh)
		// harness: links still marked alive end here (on_closed), and B's loop is done
		lv5.finish(lv5.linkA, &lv5.linkAAlive)
		if b != nil {
			lv5.finish(b, &lv5.linkBAlive)
			if b.h.loops.Add(-1) == 0 {
				b.h.slot.a.loopDone(b.h.slot)
			}
		}
		lv5.linkA.h.readable()
	}()

	// 使用 Ticker 来替代 time.Sleep，更精确且能避免空闲时持续空转
	// 建议值 10ms-50ms，避免空闲时CPU空转
	idleTicker := time.NewTicker(lv5.idleTick)
	defer idleTicker.Stop()

	for {
		// 优先处理关闭信号
		select {
		case <-lv5.ctx.Done():
			return
		default:
		}

		// 检查是否所有连接都已关闭
		if !lv5.linkAAlive.Load() && !lv5.linkBAlive.Load() {
			lv5.joinMu.Lock()
			if !lv5.linkBAlive.Load() { // B did not join meanwhile
				lv5.sealed = true
				lv5.joinMu.Unlock()
				lv5.logger.Info("所有连接均已关闭，退出循环")
				return
			}
			lv5.joinMu.Unlock()
		}

		// 执行一轮读写，优先写
		hasActivity := lv5.performWrite()
		hasActivity = lv5.performRead() || hasActivity

		// 如果没有活动，等待 Ticker 信号以避免CPU空转
		if !hasActivity {
			select {
			case <-lv5.ctx.Done():
				return
			case <-idleTicker.C:
			}
		}
	}
}

// performWrite 执行一轮写操作
func (lv5 *LinkV5) performWrite() bool {
	w1 := lv5.tryWrite(lv5.linkA, &lv5.linkAAlive)
	w2 := lv5.tryWrite(lv5.b.Load(), &lv5.linkBAlive)
	return w1 || w2
}

// performRead 执行一轮读操作
func (lv5 *LinkV5) performRead() bool {
	r1 := lv5.tryRead(lv5.linkA, &lv5.linkAAlive)
	r2 := lv5.tryRead(lv5.b.Load(), &lv5.linkBAlive)
	return r1 || r2
}

// tryRead 尝试非阻塞读取. The sub-link's limiter (uber ratelimit, built by
// WithRateLimit) is never consulted here, so rate_limit_per_s has no effect on pair.
func (lv5 *LinkV5) tryRead(l *Link, alive *atomic.Bool) bool {
	if l == nil || !alive.Load() {
		return false
	}
	// 设置极短超时，模拟非阻塞读
	_ = l.conn.SetReadDeadline(time.Now().Add(lv5.readPoll))
	payload, err := l.reader.Read()

	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			l.h.readTimeout()
			return false // 超时是正常情况，代表没数据可读
		}
		// 其他错误，标记连接为关闭
		lv5.logger.Error("读取消息失败，关闭子连接", elogString("linkID", l.id), elogFieldErr(err))
		l.h.setCause(readCause(err))
		lv5.markLinkClosed(l, alive)
		return true // 错误也是一种活动
	}

	l.UpdateActiveTime()
	select {
	case lv5.unifiedReceiveCh <- Message{LinkID: l.id, Payload: payload}:
		l.h.readable()
	default:
		lv5.logger.Warn("统一接收通道已满，消息被丢弃", elogString("linkID", l.id))
		l.h.drop(dropRecvQueueFull)
	}
	return true
}

// tryWrite 尝试非阻塞写入. Kept flaw: no retry, any failure (a time-out included)
// closes the sub-link, and the write blocks the whole loop up to its deadline.
func (lv5 *LinkV5) tryWrite(l *Link, alive *atomic.Bool) bool {
	if l == nil || !alive.Load() {
		return false
	}
	select {
	case payload, ok := <-l.sendCh:
		if !ok {
			lv5.markLinkClosed(l, alive)
			return true // 通道关闭是一种活动
		}

		// 执行单次非阻塞写，不带循环重试，以避免阻塞整个 readWriteLoop
		_ = l.conn.SetWriteDeadline(time.Now().Add(lv5.writeTimeout))
		_, err := l.writer.Write(payload)

		if err != nil {
			// 任何写入失败（包括超时）都将导致连接关闭。
			// 这是为了保证 readWriteLoop 的非阻塞性所做的必要权衡。
			lv5.logger.Error("写入消息失败，关闭子连接", elogString("linkID", l.id), elogFieldErr(err))
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				count(cWriteTimeouts, 1)
			}
			l.h.drop(dropSendFailed)
			l.h.setCause(causeError)
			lv5.markLinkClosed(l, alive)
		} else {
			// 写入成功，更新活跃时间
			l.UpdateActiveTime()
		}
		return true // 有写入活动

	default:
		return false // 没有数据要写
	}
}

// markLinkClosed 标记连接为已关闭，确保操作的原子性
func (lv5 *LinkV5) markLinkClosed(l *Link, alive *atomic.Bool) {
	if alive.CompareAndSwap(true, false) {
		_ = l.Close()
		l.h.finished()
	}
}

// finish: the loop's end for a sub-link still marked alive (harness: on_closed once).
func (lv5 *LinkV5) finish(l *Link, alive *atomic.Bool) {
	if alive.CompareAndSwap(true, false) {
		l.h.finished()
	}
}

// pairOps: the app's side of one sub-link: Send through LinkV5, the rest on the Link.
type pairOps struct {
	lv5 *LinkV5
	l   *Link
}

func (o pairOps) trySend(p []byte) sendResult {
	return o.lv5.Send(Message{LinkID: o.l.id, Payload: p}, false)
}
func (o pairOps) send(p []byte) sendResult {
	return o.lv5.Send(Message{LinkID: o.l.id, Payload: p}, true)
}
func (o pairOps) updateActiveTime()            { o.l.UpdateActiveTime() }
func (o pairOps) tryCloseIfIdle(ns int64) bool { return o.l.TryCloseIfIdle(time.Duration(ns)) }
func (o pairOps) sendChLen() int               { return len(o.l.sendCh) }
func (o pairOps) done() <-chan struct{}        { return o.l.ctx.Done() }
func (o pairOps) closeLink(c closeCause) {
	o.l.h.setCause(c)
	_ = o.l.Close()
}

// pairing: the pair the next link may join; attaches are serialised by pairMu (they
// come from the acceptor's goroutines).
var (
	pairMu      sync.Mutex
	pendingPair *LinkV5
)

func attachPair(cfg *serverConfig, parent context.Context, s *slot, conn net.Conn) {
	pairMu.Lock()
	defer pairMu.Unlock()
	id := fmt.Sprint(s.id)
	opts := []Option{
		withHarness(s, cfg.ms("close_timeout_ms")),
		WithTimeouts(linkDefaultReadTimeout, cfg.ms("write_timeout_ms")),
		WithBuffer(int(cfg.p["send_queue_len"]), 0),
		WithAutoClose(cfg.Common.AutoClose),
		WithRateLimit(int(cfg.Common.RateLimitPerS)),
	}
	if p := pendingPair; p != nil {
		pendingPair = nil
		src := p.linkA.h.slot.src
		// runs inside New, before B is published to the loop
		bind := func(l *Link) { s.bindShared(pairOps{p, l}, src) }
		if _, ok := p.join(sessionInfo{id}, conn, append(opts, bind)...); ok {
			return
		}
		// A closed alone and its loop is gone: this link starts a new pair
	}
	p := NewLinkV5(parent, sessionInfo{id}, conn, int(cfg.p["unified_queue_len"]), opts...)
	p.writeTimeout = cfg.ms("write_timeout_ms")
	p.readPoll = cfg.ms("read_poll_ms")
	p.idleTick = cfg.ms("idle_tick_ms")
	s.bindPair(pairOps{p, p.linkA}, p.unifiedReceiveCh)
	pendingPair = p
	p.start()
}
