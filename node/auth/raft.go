package auth

import (
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// StreamLayer carries raft between the county's members over mutual TLS:
// each end must hold a member certificate of the same county. A peer
// without one never gets past the handshake, so no raft message of its
// is read. The handshake runs on the connection's first read, on raft's
// goroutine for that connection, so a slow peer holds up no other.
type StreamLayer struct {
	ln     net.Listener
	server *tls.Config
	client *tls.Config
}

// NewStreamLayer listens for raft on listen.
func NewStreamLayer(listen string, b *Bundle) (*StreamLayer, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	check := func(cs tls.ConnectionState) error {
		_, err := b.Verify(rawOf(cs.PeerCertificates), time.Now(), RoleMember)
		return err
	}
	server := &tls.Config{
		MinVersion:       tls.VersionTLS13,
		GetCertificate:   func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return b.Current(), nil },
		ClientAuth:       tls.RequireAnyClientCert,
		VerifyConnection: check,
	}
	// Members are dialled at their raft addresses, which their
	// certificates need not name: the chain and the member role are what
	// is checked, on both sides.
	client := &tls.Config{
		MinVersion:           tls.VersionTLS13,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return b.Current(), nil },
		InsecureSkipVerify:   true,
		VerifyConnection:     check,
	}
	return &StreamLayer{ln: ln, server: server, client: client}, nil
}

// Accept waits for the next connection.
func (s *StreamLayer) Accept() (net.Conn, error) {
	c, err := s.ln.Accept()
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second)) // the handshake's
	return &handshaking{Conn: tls.Server(c, s.server)}, nil
}

// Close stops listening.
func (s *StreamLayer) Close() error { return s.ln.Close() }

// Addr is the bound address, advertised to the other members.
func (s *StreamLayer) Addr() net.Addr { return s.ln.Addr() }

// Dial connects to another member.
func (s *StreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout}
	c, err := tls.DialWithDialer(d, "tcp", string(address), s.client)
	if err != nil {
		return nil, fmt.Errorf("raft dial %s: %w", address, err)
	}
	return c, nil
}

// handshaking clears the handshake's deadline once it is done; raft sets
// its own deadlines after.
type handshaking struct {
	*tls.Conn
	done bool
}

func (h *handshaking) Read(p []byte) (int, error) {
	if !h.done {
		if err := h.Handshake(); err != nil {
			h.Close()
			return 0, err
		}
		h.done = true
		_ = h.SetDeadline(time.Time{})
	}
	return h.Conn.Read(p)
}
