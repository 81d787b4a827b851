package podmon

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

var timeZero time.Time

// FrameKind is the first byte of a frame of an upgraded Exec or Attach.
type FrameKind byte

// The frame kinds, as the IDL's Exec comment gives them.
const (
	FrameStdin  FrameKind = 0
	FrameStdout FrameKind = 1
	FrameStderr FrameKind = 2
	FrameExit   FrameKind = 3
	FrameResize FrameKind = 4
	FrameError  FrameKind = 5
)

// maxFrame bounds what a client accepts from the monitor (it sends at most
// 64 KiB at once): anything larger is a broken stream, not a reason to
// allocate.
const maxFrame = 16 << 20

// Frame is one frame: its kind and payload.
type Frame struct {
	Kind    FrameKind
	Payload []byte
}

// ReadFrame reads the next frame.
func (u *Upgraded) ReadFrame() (Frame, error) {
	var h [5]byte
	if _, err := io.ReadFull(u.r, h[:]); err != nil {
		return Frame{}, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > maxFrame {
		return Frame{}, fmt.Errorf("frame of %d bytes", n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(u.r, p); err != nil {
		return Frame{}, err
	}
	return Frame{Kind: FrameKind(h[0]), Payload: p}, nil
}

// WriteFrame writes one frame (safe to call from several goroutines).
func (u *Upgraded) WriteFrame(kind FrameKind, payload []byte) error {
	b := make([]byte, 5+len(payload))
	b[0] = byte(kind)
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	copy(b[5:], payload)
	_, err := u.Write(b)
	return err
}

// WriteStdin sends input to the process; an empty p would close its stdin,
// so it is skipped (use CloseStdin).
func (u *Upgraded) WriteStdin(p []byte) error {
	for len(p) > 0 {
		n := len(p)
		if n > 64<<10 {
			n = 64 << 10
		}
		if err := u.WriteFrame(FrameStdin, p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// CloseStdin closes the process's stdin (an empty stdin frame).
func (u *Upgraded) CloseStdin() error { return u.WriteFrame(FrameStdin, nil) }

// Resize sets the terminal's size.
func (u *Upgraded) Resize(width, height uint16) error {
	var p [4]byte
	binary.BigEndian.PutUint16(p[:], width)
	binary.BigEndian.PutUint16(p[2:], height)
	return u.WriteFrame(FrameResize, p[:])
}

// StreamError is an error frame: the monitor ended the session (for
// example a client too slow for Attach).
type StreamError struct{ Message string }

func (e *StreamError) Error() string { return "podmon: " + e.Message }

// Copy writes stdout and stderr frames to the writers (nil discards) until
// the exit frame, and returns the exit code; an error frame is a
// *StreamError, an end without exit frame io.ErrUnexpectedEOF.
func (u *Upgraded) Copy(stdout, stderr io.Writer) (int32, error) {
	for {
		f, err := u.ReadFrame()
		if errors.Is(err, io.EOF) {
			return 0, io.ErrUnexpectedEOF
		}
		if err != nil {
			return 0, err
		}
		switch f.Kind {
		case FrameStdout, FrameStderr:
			w := stdout
			if f.Kind == FrameStderr {
				w = stderr
			}
			if w != nil {
				if _, err := w.Write(f.Payload); err != nil {
					return 0, err
				}
			}
		case FrameExit:
			if len(f.Payload) != 4 {
				return 0, fmt.Errorf("exit frame of %d bytes", len(f.Payload))
			}
			return int32(binary.BigEndian.Uint32(f.Payload)), nil
		case FrameError:
			return 0, &StreamError{Message: string(f.Payload)}
		}
	}
}
