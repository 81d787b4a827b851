package podmon

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
)

// The message types of the attach socket, as conmon's and conmon-rs's
// (what CRI-O reads): every message from the socket starts with one of
// these bytes; what the engine writes is the container's stdin, raw.
const (
	AttachPipeStdout = 2
	AttachPipeStderr = 3
)

// attachChunk is the largest message written to the attach socket
// (conmon's buffer size), the type byte included.
const attachChunk = 8192

// AttachConfig is the argument of AttachContainer.
type AttachConfig struct {
	ID string
	// SocketPath is where the engine will connect: a SOCK_SEQPACKET
	// socket this client listens on.
	SocketPath string
	// Stdin asks for the container's stdin.
	Stdin bool
	// StopAfterStdinEOF closes the container's stdin when the engine
	// closes its side.
	StopAfterStdinEOF bool
}

// Attachment is a listening attach socket; Close stops listening.
type Attachment struct {
	ln   *net.UnixListener
	path string
	wg   sync.WaitGroup
}

// Close stops accepting and removes the socket; bridges already running go
// on until the container ends or the engine hangs up.
func (a *Attachment) Close() error {
	err := a.ln.Close()
	os.Remove(a.path)
	return err
}

// Wait waits until every bridge has ended.
func (a *Attachment) Wait() { a.wg.Wait() }

// AttachContainer listens on cfg.SocketPath; each engine connection there
// is bridged to an upgraded Attach of the container: output as typed
// messages, the engine's writes as stdin.
func (c *PodmonClient) AttachContainer(ctx context.Context, cfg *AttachConfig) (*Attachment, error) {
	os.Remove(cfg.SocketPath)
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: cfg.SocketPath, Net: "unixpacket"})
	if err != nil {
		return nil, err
	}
	a := &Attachment{ln: ln, path: cfg.SocketPath}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		for {
			conn, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			a.wg.Add(1)
			go func() {
				defer a.wg.Done()
				c.bridge(conn, cfg)
			}()
		}
	}()
	return a, nil
}

func (c *PodmonClient) bridge(conn *net.UnixConn, cfg *AttachConfig) {
	defer conn.Close()
	in := AttachIn{Id: cfg.ID}
	if cfg.Stdin {
		in.Stdin = &cfg.Stdin
	}
	out, up, err := c.AttachUpgrade(context.Background(), in)
	if err != nil {
		return
	}
	defer up.Close()
	if out.Stdin != nil && *out.Stdin {
		go func() {
			buf := make([]byte, attachChunk)
			for {
				n, err := conn.Read(buf)
				if n > 0 {
					if up.WriteStdin(buf[:n]) != nil {
						return
					}
				}
				if err != nil {
					if errors.Is(err, io.EOF) && cfg.StopAfterStdinEOF {
						up.CloseStdin()
					}
					return
				}
			}
		}()
	}
	up.Copy(&packetWriter{conn, AttachPipeStdout}, &packetWriter{conn, AttachPipeStderr})
}

// packetWriter writes output as attach messages of one type.
type packetWriter struct {
	conn *net.UnixConn
	kind byte
}

func (w *packetWriter) Write(p []byte) (int, error) {
	msg := make([]byte, 0, attachChunk)
	for done := 0; done < len(p); {
		n := len(p) - done
		if n > attachChunk-1 {
			n = attachChunk - 1
		}
		msg = append(msg[:0], w.kind)
		msg = append(msg, p[done:done+n]...)
		if _, err := w.conn.Write(msg); err != nil {
			return done, err
		}
		done += n
	}
	return len(p), nil
}
