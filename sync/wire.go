package sync

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// WireCounter counts the bytes that cross TCP connections in both
// directions: what a link really costs, HTTP/2 framing, headers and all.
type WireCounter struct {
	Written atomic.Int64
	Read    atomic.Int64
}

// Total is all bytes both ways.
func (w *WireCounter) Total() int64 { return w.Written.Load() + w.Read.Load() }

// Transport returns Transport(tc) whose connections are counted (the TLS
// records' bytes, when tc is set).
func (w *WireCounter) Transport(tc *tls.Config) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 15 * time.Second}
	t := Transport(tc)
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countedConn{Conn: c, w: w}, nil
	}
	return t
}

type countedConn struct {
	net.Conn
	w *WireCounter
}

func (c *countedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.w.Read.Add(int64(n))
	return n, err
}

func (c *countedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.w.Written.Add(int64(n))
	return n, err
}
