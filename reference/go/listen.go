// listen.go — the listener (SO_REUSEPORT for several server processes) and the HTTP upgrade through gorilla/websocket; the upgraded net.Conn goes to the app.
package main

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// soReuseport is SO_REUSEPORT (linux), which package syscall does not name.
const soReuseport = 0xf

// acceptor counts what the C acceptor counts (srv_acceptor_stats).
type acceptor struct {
	ln       net.Listener
	srv      *http.Server
	a        *app
	wg       sync.WaitGroup
	accepted atomic.Int64
	// accept failed for lack of descriptors (EMFILE/ENFILE): the limit reached
	fdLimitPauses    atomic.Int64
	acceptErrors     atomic.Int64
	handshakesFailed atomic.Int64
}

// countingListener sees every Accept error before net/http retries it.
type countingListener struct {
	net.Listener
	acc *acceptor
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
			l.acc.fdLimitPauses.Add(1)
		} else if !errors.Is(err, net.ErrClosed) {
			l.acc.acceptErrors.Add(1)
		}
		return nil, err
	}
	l.acc.accepted.Add(1)
	return c, nil
}

// upgrader: gorilla does the handshake only. Its Conn is dropped at once: frames are
// read and written on the net.Conn underneath (wsframe.go says why). gorilla refuses a
// client that sent data before the handshake completed, so no byte is left in its
// buffer when the Conn is dropped.
var upgrader = websocket.Upgrader{
	HandshakeTimeout: 10 * time.Second,
	CheckOrigin:      func(*http.Request) bool { return true },
}

func listen(cfg *serverConfig, a *app) (*acceptor, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if cfg.Reuseport {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReuseport, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp4", net.JoinHostPort(cfg.Addr, itoa(cfg.Port)))
	if err != nil {
		return nil, err
	}
	acc := &acceptor{ln: ln, a: a}
	acc.srv = &http.Server{
		Handler:           http.HandlerFunc(acc.handle),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	acc.wg.Add(1)
	go func() {
		defer acc.wg.Done()
		_ = acc.srv.Serve(countingListener{ln, acc})
	}()
	return acc, nil
}

func (acc *acceptor) port() int { return acc.ln.Addr().(*net.TCPAddr).Port }

func (acc *acceptor) handle(w http.ResponseWriter, r *http.Request) {
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		acc.handshakesFailed.Add(1)
		return
	}
	conn := ws.UnderlyingConn()
	_ = conn.SetDeadline(time.Time{})
	acc.a.attach(conn)
}

// stop closes the listener; links already upgraded are the app's.
func (acc *acceptor) stop() {
	_ = acc.ln.Close()
	acc.wg.Wait()
}
