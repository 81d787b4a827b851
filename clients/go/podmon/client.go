// Package podmon is a Go client of podmon, the pod-level container monitor,
// over its Varlink interface io.podmon.Pod.
//
// zz_generated.go (made by scripts/gen-clients from the IDL, never edited by
// hand) holds one Go type per IDL type, error and method parameter list,
// and one typed method of Client per IDL method: plain calls, FooMore for
// methods with 'more' (an iterator over the replies) and FooUpgrade for
// those with 'upgrade' (the connection, once upgraded, as an Upgraded).
// This file is the transport under them; engine.go is the conmon-rs-shaped
// layer an engine uses (New, CreateContainer, ExecSyncContainer, ...).
//
// Plain and 'more' calls go through github.com/varlink/go (Debian's
// golang-github-varlink-go-dev). Upgraded calls use their own connection:
// that library reads the reply through a buffered reader but hands out the
// raw connection afterwards, so frames that arrive with the reply would be
// lost, and it cannot shut the write side down.
package podmon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"

	"github.com/varlink/go/varlink"
)

// Client calls one podmon monitor. A call takes an idle connection or
// dials one (a Varlink connection carries one call at a time, and
// WaitContainer can take long), so a Client may be used from many
// goroutines; streaming and upgraded calls get a connection each.
type Client struct {
	address string
	mu      sync.Mutex
	idle    []*varlink.Connection
}

// maxIdle bounds the connections a Client keeps open between calls.
const maxIdle = 4

// Dial returns a client of the monitor at address: "unix:/path" or a bare
// socket path. It connects on the first call (and again after the monitor
// closed the connection, as it does on Reexec).
func Dial(address string) *Client {
	if !strings.Contains(address, ":") {
		address = "unix:" + address
	}
	return &Client{address: address}
}

// Address is the Varlink address the client calls.
func (c *Client) Address() string { return c.address }

// Close closes the idle connections; the client may still be used.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.idle {
		conn.Close()
	}
	c.idle = nil
	return nil
}

func (c *Client) take(ctx context.Context) (*varlink.Connection, error) {
	c.mu.Lock()
	if n := len(c.idle); n > 0 {
		conn := c.idle[n-1]
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		return conn, nil
	}
	c.mu.Unlock()
	conn, err := varlink.NewConnection(ctx, c.address)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", c.address, err)
	}
	return conn, nil
}

func (c *Client) put(conn *varlink.Connection) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.idle) >= maxIdle {
		conn.Close()
		return
	}
	c.idle = append(c.idle, conn)
}

// UnknownError is a Varlink error reply that is not one of the interface's
// (for example org.varlink.service.InvalidParameter).
type UnknownError struct {
	Name       string
	Parameters json.RawMessage
}

func (e *UnknownError) Error() string { return e.Name + " " + string(e.Parameters) }

// ErrorName is the error's fully qualified Varlink name.
func (e *UnknownError) ErrorName() string { return e.Name }

func errorText(name string, params interface{}) string {
	b, err := json.Marshal(params)
	if err != nil {
		return name
	}
	return name + " " + string(b)
}

// typedError turns a Varlink error reply into the generated error type of
// its name (so callers can use errors.As), or an UnknownError.
func typedError(name string, raw json.RawMessage) error {
	if e := newInterfaceError(name); e != nil {
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, e); err != nil {
				return fmt.Errorf("%s: bad parameters %s: %w", name, raw, err)
			}
		}
		return e
	}
	return &UnknownError{Name: name, Parameters: raw}
}

// fromVarlink maps the errors of github.com/varlink/go to ours.
func fromVarlink(err error) error {
	var ve *varlink.Error
	if errors.As(err, &ve) {
		var raw json.RawMessage
		if p, ok := ve.Parameters.(*json.RawMessage); ok && p != nil {
			raw = *p
		}
		return typedError(ve.Name, raw)
	}
	var ip *varlink.InvalidParameter
	if errors.As(err, &ip) {
		raw, _ := json.Marshal(ip)
		return &UnknownError{Name: "org.varlink.service.InvalidParameter", Parameters: raw}
	}
	return err
}

// isReply says whether err is a reply of the monitor (the connection is
// still good) rather than a transport failure.
func isReply(err error) bool {
	var u *UnknownError
	type named interface{ ErrorName() string }
	var n named
	return errors.As(err, &u) || errors.As(err, &n)
}

func (c *Client) call(ctx context.Context, method string, in, out interface{}) error {
	conn, err := c.take(ctx)
	if err != nil {
		return err
	}
	recv, err := conn.Send(ctx, method, in, 0)
	if err == nil {
		_, err = recv(ctx, out)
	}
	if err != nil {
		err = fromVarlink(err)
		if !isReply(err) {
			// A broken connection (the monitor restarted, or the context
			// ended mid-call): never reuse it.
			conn.Close()
			return err
		}
	}
	c.put(conn)
	return err
}

// stream is one call with 'more' on a connection of its own.
type stream struct {
	conn *varlink.Connection
	recv func(context.Context, interface{}) (uint64, error)
	done bool
}

func (c *Client) callMore(ctx context.Context, method string, in interface{}) (*stream, error) {
	conn, err := varlink.NewConnection(ctx, c.address)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", c.address, err)
	}
	recv, err := conn.Send(ctx, method, in, varlink.More)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &stream{conn: conn, recv: recv}, nil
}

func (s *stream) next(ctx context.Context, out interface{}) error {
	if s.done {
		return io.EOF
	}
	flags, err := s.recv(ctx, out)
	if err != nil {
		s.done = true
		s.conn.Close()
		return fromVarlink(err)
	}
	if flags&varlink.Continues == 0 {
		s.done = true
		s.conn.Close()
	}
	return nil
}

func (s *stream) close() error {
	s.done = true
	return s.conn.Close()
}

// Upgraded is a connection after an upgraded call's reply: for Exec and
// Attach it carries frames (ReadFrame, WriteFrame and the helpers), for
// PortForward the TCP connection's bytes (Read, Write, CloseWrite).
type Upgraded struct {
	conn *net.UnixConn
	r    *bufio.Reader
	wmu  sync.Mutex
}

type wireReply struct {
	Parameters json.RawMessage `json:"parameters"`
	Continues  bool            `json:"continues"`
	Error      string          `json:"error"`
}

func (c *Client) callUpgrade(ctx context.Context, method string, in, out interface{}) (*Upgraded, error) {
	path := strings.TrimPrefix(c.address, "unix:")
	if i := strings.IndexByte(path, ';'); i >= 0 {
		path = path[:i]
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", c.address, err)
	}
	conn := nc.(*net.UnixConn)
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	msg, err := json.Marshal(map[string]interface{}{"method": method, "parameters": in, "upgrade": true})
	if err == nil {
		_, err = conn.Write(append(msg, 0))
	}
	u := &Upgraded{conn: conn, r: bufio.NewReaderSize(conn, 64<<10)}
	var line []byte
	if err == nil {
		line, err = u.r.ReadBytes(0)
	}
	var rep wireReply
	if err == nil {
		err = json.Unmarshal(line[:len(line)-1], &rep)
	}
	if err == nil && rep.Error != "" {
		err = typedError(rep.Error, rep.Parameters)
	}
	if err == nil && len(rep.Parameters) > 0 {
		err = json.Unmarshal(rep.Parameters, out)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(timeZero)
	return u, nil
}

// Read reads the upgraded connection's bytes (unframed; for PortForward).
func (u *Upgraded) Read(p []byte) (int, error) { return u.r.Read(p) }

// Write writes bytes to the upgraded connection (unframed; for PortForward).
func (u *Upgraded) Write(p []byte) (int, error) {
	u.wmu.Lock()
	defer u.wmu.Unlock()
	return u.conn.Write(p)
}

// CloseWrite shuts the write side down: for PortForward, the pod's TCP
// connection sees end of file.
func (u *Upgraded) CloseWrite() error { return u.conn.CloseWrite() }

// Close closes the connection: for Exec, podmon kills the command.
func (u *Upgraded) Close() error { return u.conn.Close() }
