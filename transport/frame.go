package transport

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Wire format of a Keel RPC connection (after the 'K' header byte): a
// sequence of frames in both directions, each
//
//	kind    uint8   frameRequest, frameResponse, frameError, frameNoHandler, frameCancel,
//	                framePing, framePong
//	id      uint64  request ID chosen by the caller, echoed in the reply
//	timeout uint64  requests: nanoseconds left before the caller's deadline, 0 = none
//	length  uint32  payload length, at most MaxMessageSize
//	payload [length]byte
//
// all integers big-endian. Replies may come in any order.

// MaxMessageSize is the largest request or response payload, in bytes.
const MaxMessageSize = 64 << 20

const (
	frameHeaderSize = 1 + 8 + 8 + 4
	// smallPayload is read with a single allocation; larger payloads grow
	// with the bytes actually received, so a forged length costs nothing.
	smallPayload = 64 << 10
)

// Frame kinds.
const (
	frameRequest   byte = 1 // client → server: run the handler
	frameResponse  byte = 2 // server → client: handler's response
	frameError     byte = 3 // server → client: handler's error text
	frameNoHandler byte = 4 // server → client: no handler configured
	frameCancel    byte = 5 // client → server: caller gave up
	framePing      byte = 6 // client → server: are you there? (calls are waiting)
	framePong      byte = 7 // server → client: answer to a ping, sent at once
)

// frame is one decoded frame.
type frame struct {
	kind    byte
	id      uint64
	timeout time.Duration
	payload []byte
}

// writeFrame encodes f into w (without flushing).
func writeFrame(w *bufio.Writer, f frame) error {
	if len(f.payload) > MaxMessageSize {
		return ErrTooLarge
	}
	var h [frameHeaderSize]byte
	h[0] = f.kind
	binary.BigEndian.PutUint64(h[1:9], f.id)
	t := f.timeout
	if t < 0 {
		t = 0
	}
	binary.BigEndian.PutUint64(h[9:17], uint64(t))
	binary.BigEndian.PutUint32(h[17:21], uint32(len(f.payload)))
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	_, err := w.Write(f.payload)
	return err
}

// readFrame decodes one frame from r. It returns io.EOF only on a clean end
// before the first byte of a frame, ErrTooLarge or ErrBadFrame for a frame it
// refuses, and io.ErrUnexpectedEOF for a truncated one. It never allocates
// more than about twice the bytes actually received.
func readFrame(r io.Reader) (frame, error) { return readFrameLimit(r, MaxMessageSize) }

// readFrameLimit is readFrame refusing, on its header alone, a frame whose
// payload exceeds limit (at most MaxMessageSize).
func readFrameLimit(r io.Reader, limit uint32) (frame, error) {
	var h [frameHeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return frame{}, err
	}
	f := frame{kind: h[0], id: binary.BigEndian.Uint64(h[1:9])}
	timeout := binary.BigEndian.Uint64(h[9:17])
	n := binary.BigEndian.Uint32(h[17:21])
	if f.kind < frameRequest || f.kind > framePong {
		return frame{}, fmt.Errorf("%w: kind %d", ErrBadFrame, f.kind)
	}
	if n > limit {
		return frame{}, fmt.Errorf("%w: payload of %d bytes, limit %d", ErrTooLarge, n, limit)
	}
	if timeout > uint64(1<<63-1) || (timeout != 0 && f.kind != frameRequest) {
		return frame{}, fmt.Errorf("%w: timeout %d on kind %d", ErrBadFrame, timeout, f.kind)
	}
	if n != 0 && (f.kind == frameNoHandler || f.kind == frameCancel || f.kind == framePing || f.kind == framePong) {
		return frame{}, fmt.Errorf("%w: payload on kind %d", ErrBadFrame, f.kind)
	}
	f.timeout = time.Duration(timeout)
	p, err := readPayload(r, n)
	if err != nil {
		return frame{}, err
	}
	f.payload = p
	return f, nil
}

// readPayload reads n bytes from r: small payloads with one allocation,
// larger ones growing with the bytes actually received, so a forged length
// costs nothing. It returns nil for n == 0 and io.ErrUnexpectedEOF when r
// ends early.
func readPayload(r io.Reader, n uint32) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	if n <= smallPayload {
		p := make([]byte, n)
		if _, err := io.ReadFull(r, p); err != nil {
			return nil, unexpected(err)
		}
		return p, nil
	}
	var b bytes.Buffer
	b.Grow(smallPayload)
	got, err := io.CopyN(&b, r, int64(n))
	if got != int64(n) {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, unexpected(err)
	}
	return b.Bytes(), nil
}

// unexpected turns io.EOF in the middle of a frame into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
