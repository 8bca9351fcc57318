// wsframe.go — WebSocket frames over a plain net.Conn with gobwas/ws's behaviour at deadlines (ws.ReadHeader, wsutil.ReadClientData, wsutil.WriteServerMessage).
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync/atomic"
)

// Why not gorilla for the frames: after a read deadline expires a gorilla Conn is dead
// ("the websocket connection state is corrupt"; the next read panics), while the seed's
// poll and pair read with 1 ms deadlines through gobwas's wsutil on a plain net.Conn,
// where a deadline that fires before a frame starts costs nothing. This file does what
// gobwas does, with no buffer of its own and no state kept between two calls:
//
//   - a deadline before the first byte of a frame: nothing was read, nothing is lost;
//   - a deadline after part of a header or payload: the bytes read so far are gone
//     with the call (gobwas's ReadHeader and ReadAll return them to nobody), so the
//     next read starts in the middle of a frame and parses payload as a header. The
//     seed treats that time-out as "no data" and reads again: the stream is then
//     corrupt, usually a protocol error a moment later (counted: midFrameTimeouts);
//   - a write is two conn.Write calls (header, then payload, as ws.WriteFrame); a
//     deadline inside them leaves a partial frame on the wire, and the seed's retry
//     writes the whole frame again behind it (counted: partialWrites).

// Opcodes (RFC 6455 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// RFC 6455 status codes the seed looks at.
const (
	statusGoingAway    = 1001
	statusNoStatusRcvd = 1005
	statusProtocolErr  = 1002
)

// closedError is wsutil.ClosedError: the peer sent a close frame (answered already).
type closedError struct {
	Code   int
	Reason string
}

func (e closedError) Error() string {
	return "ws closed: " + strconv.Itoa(e.Code) + " " + e.Reason
}

// protocolError is ws.ProtocolError (a frame this side must refuse).
type protocolError string

func (e protocolError) Error() string { return string(e) }

var (
	errMaskRequired   = protocolError("frames from client to server must be masked")
	errNonZeroRsv     = protocolError("non-zero rsv bits with no extension negotiated")
	errReservedOp     = protocolError("use of reserved op code")
	errControlTooLong = protocolError("control frame payload limit exceeded")
	errControlNotFin  = protocolError("control frame is not final")
	errContExpected   = protocolError("unexpected non-continuation data frame")
	errContUnexpected = protocolError("unexpected continuation data frame")
	errLengthMSB      = protocolError("header error: the most significant bit must be 0")
	errTooBig         = protocolError("message larger than limits.max_msg_bytes")
)

// frameStats counts what only this layer sees (process-wide).
var frameStats struct {
	midFrameTimeouts atomic.Int64 // a read deadline fired after part of a frame was read
	partialWrites    atomic.Int64 // a write deadline fired inside a frame
	pingsAnswered    atomic.Int64
	framesIn         atomic.Int64
	framesOut        atomic.Int64
	connReads        atomic.Int64 // conn.Read calls (each one read(2) at least)
	connWrites       atomic.Int64
}

// maxMsgBytes is limits.max_msg_bytes (gobwas has no limit: see docs/go-reference.md).
var maxMsgBytes int64 = 4 << 20

type header struct {
	fin    bool
	rsv    byte
	op     byte
	masked bool
	mask   [4]byte
	length int64
}

// countingRead reads like io.ReadFull and says how many bytes it consumed, so the
// caller can tell "nothing read" from "part of a frame read" when a deadline fires.
func readFull(c io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		frameStats.connReads.Add(1)
		k, err := c.Read(b[n:])
		n += k
		if err != nil {
			if err == io.EOF && n > 0 {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
	}
	return n, nil
}

// readHeader is ws.ReadHeader: two bytes, then the extended length and mask. started
// says whether any byte was consumed (a time-out then leaves the stream mid-frame).
func readHeader(c io.Reader) (h header, started bool, err error) {
	var b [12]byte
	n, err := readFull(c, b[:2])
	if err != nil {
		return h, n > 0, err
	}
	h.fin = b[0]&0x80 != 0
	h.rsv = (b[0] & 0x70) >> 4
	h.op = b[0] & 0x0f
	extra := 0
	if b[1]&0x80 != 0 {
		h.masked = true
		extra += 4
	}
	l := b[1] & 0x7f
	switch {
	case l < 126:
		h.length = int64(l)
	case l == 126:
		extra += 2
	default:
		extra += 8
	}
	if extra == 0 {
		return h, true, nil
	}
	if _, err = readFull(c, b[:extra]); err != nil {
		return h, true, err
	}
	p := b[:extra]
	switch {
	case l == 126:
		h.length = int64(binary.BigEndian.Uint16(p))
		p = p[2:]
	case l == 127:
		if p[0]&0x80 != 0 {
			return h, true, errLengthMSB
		}
		h.length = int64(binary.BigEndian.Uint64(p))
		p = p[8:]
	}
	if h.masked {
		copy(h.mask[:], p)
	}
	return h, true, nil
}

// checkHeader is ws.CheckHeader for the server side without extensions.
func checkHeader(h header, fragmented bool) error {
	control := h.op&0x8 != 0
	switch {
	case (h.op > opBinary && h.op < opClose) || h.op > opPong:
		return errReservedOp
	case control && h.length > 125:
		return errControlTooLong
	case control && !h.fin:
		return errControlNotFin
	case h.rsv != 0:
		return errNonZeroRsv
	case !h.masked:
		return errMaskRequired
	case fragmented && !control && h.op != opContinuation:
		return errContExpected
	case !fragmented && h.op == opContinuation:
		return errContUnexpected
	}
	return nil
}

func unmask(p []byte, key [4]byte, pos int) {
	for i := range p {
		p[i] ^= key[(pos+i)&3]
	}
}

// readPayload reads h's payload, unmasked.
func readPayload(c io.Reader, h header) ([]byte, error) {
	p := make([]byte, h.length)
	_, err := readFull(c, p)
	if err != nil {
		return nil, err
	}
	unmask(p, h.mask, 0)
	return p, nil
}

// readClientData is wsutil.ReadClientData: the next text or binary message, answering
// pings (a pong) and a close (its echo, then closedError) on the way, discarding pongs.
// Fragments are joined. A read deadline surfaces as the net.Error it is; see the top
// of this file for what it leaves behind.
func readClientData(r io.Reader, c net.Conn) (msg []byte, torn bool, err error) {
	fragmented := false
	started := false
	for {
		h, st, err := readHeader(r)
		started = started || st
		if err == nil {
			err = checkHeader(h, fragmented)
		}
		if err == nil && h.op&0x8 == 0 && int64(len(msg))+h.length > maxMsgBytes {
			err = errTooBig
		}
		if err != nil {
			return nil, noteTimeout(err, started), err
		}
		p, err := readPayload(r, h)
		if err != nil {
			return nil, noteTimeout(err, true), err
		}
		frameStats.framesIn.Add(1)
		switch h.op {
		case opPing:
			frameStats.pingsAnswered.Add(1)
			if err := writeFrame(c, opPong, p); err != nil {
				return nil, false, err
			}
			continue
		case opPong:
			continue
		case opClose:
			return nil, false, handleClose(c, p)
		}
		msg = append(msg, p...)
		if h.fin {
			return msg, false, nil
		}
		fragmented = true
	}
}

// handleClose is wsutil.ControlHandler.HandleClose: echo the status (or an empty close
// frame), then report the peer's close.
func handleClose(c net.Conn, p []byte) error {
	if len(p) < 2 {
		if err := writeFrame(c, opClose, nil); err != nil {
			return err
		}
		return closedError{Code: statusNoStatusRcvd}
	}
	code := int(binary.BigEndian.Uint16(p))
	if err := writeFrame(c, opClose, p[:2]); err != nil {
		return err
	}
	return closedError{Code: code, Reason: string(p[2:])}
}

// noteTimeout: whether a deadline fired after part of a frame was read (it tore it).
func noteTimeout(err error, started bool) bool {
	var ne net.Error
	if started && errors.As(err, &ne) && ne.Timeout() {
		frameStats.midFrameTimeouts.Add(1)
		return true
	}
	return false
}

// writeFrame is wsutil.WriteServerMessage (ws.WriteFrame): one unmasked, final frame,
// written as two conn.Write calls, the header and then the payload, as gobwas does.
func writeFrame(c net.Conn, op byte, p []byte) error {
	var b [10]byte
	b[0] = 0x80 | op
	n := 2
	switch l := len(p); {
	case l <= 125:
		b[1] = byte(l)
	case l <= 0xffff:
		b[1] = 126
		binary.BigEndian.PutUint16(b[2:], uint16(l))
		n = 4
	default:
		b[1] = 127
		binary.BigEndian.PutUint64(b[2:], uint64(l))
		n = 10
	}
	frameStats.connWrites.Add(1)
	k, err := c.Write(b[:n])
	if err == nil {
		frameStats.connWrites.Add(1)
		var k2 int
		k2, err = c.Write(p)
		k += k2
	}
	if err != nil {
		if k > 0 {
			frameStats.partialWrites.Add(1)
		}
		return err
	}
	frameStats.framesOut.Add(1)
	return nil
}

// wsReader and wsWriter stand for the gateway's wswrapper.Reader/Writer (not public):
// Read is wsutil.ReadClientData, Write is wsutil.WriteServerMessage(conn, OpBinary, p).
type wsReader struct {
	conn net.Conn
	r    io.Reader
	torn bool // a frame was torn: the stream is misread from here on
}
type wsWriter struct{ conn net.Conn }

// readBufferBytes: LINKBENCH_GO_READ_BUFFER=N puts an N-byte bufio.Reader between the
// frame reader and the conn — an experiment, not the seed: what a buffering wswrapper
// would change (a frame already in the buffer is read without a deadline check, so it
// cannot be torn). 0, the default, reads the plain conn as the seed's gobwas does.
var readBufferBytes = func() int {
	n, _ := strconv.Atoi(os.Getenv("LINKBENCH_GO_READ_BUFFER"))
	if n < 0 {
		n = 0
	}
	return n
}()

func newServerSideReader(c net.Conn) *wsReader {
	if readBufferBytes > 0 {
		return &wsReader{conn: c, r: bufio.NewReaderSize(c, readBufferBytes)}
	}
	return &wsReader{conn: c, r: c}
}
func newServerSideWriter(c net.Conn, compress bool) *wsWriter {
	_ = compress // no compression is ever negotiated here
	return &wsWriter{conn: c}
}

// Read: the first torn frame of a connection is a message lost (broken_by_deadline);
// after it the stream is misread, and what a later "torn frame" held cannot be told from
// the garbage around it (usually a protocol error ends the link at once; rarely the
// reads fall back into step and the frames swallowed on the way are lost unnamed).
func (r *wsReader) Read() ([]byte, error) {
	msg, torn, err := readClientData(r.r, r.conn)
	if torn && !r.torn {
		r.torn = true
		host.drops[dropBrokenByDeadline].Add(1)
	}
	return msg, err
}
func (w *wsWriter) Write(p []byte) (int, error) {
	if err := writeFrame(w.conn, opBinary, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// writeServerMessage is wsutil.WriteServerMessage (Close uses it for the close frame).
func writeServerMessage(c net.Conn, op byte, p []byte) error { return writeFrame(c, op, p) }
