package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/cli/client"
	"github.com/jiujin/jiujin/node/auth"
)

// Factory holds the global options and builds clients lazily, so a verb
// that needs no node never dials one.
type Factory struct {
	NodeURL string
	Output  string
	// In is where --password-stdin reads (os.Stdin unless a test says).
	In  io.Reader
	Out io.Writer
	Err io.Writer
	// Retries of a call the node answers Unavailable, RetryWait apart
	// (the defaults when zero: 3 and one second).
	Retries   int
	RetryWait time.Duration
	// CAFile is the county CA to trust for https URLs (--ca, JIUJIN_CA);
	// TLSDir a node's certificate directory, for the calls only a node's
	// certificate may make (cluster verbs, with a member's).
	CAFile string
	TLSDir string

	conn  *client.Conn
	names map[string]string // units' names, asked once (unitNames)
}

// NewFactory returns a factory writing to out and errOut.
func NewFactory(out, errOut io.Writer) *Factory {
	return &Factory{In: os.Stdin, Out: out, Err: errOut, Output: "text"}
}

// nodeConn is the connection to the node(s) --node names, made at its first
// use, once the flags are parsed.
func (f *Factory) nodeConn() *client.Conn {
	if f.conn == nil {
		tc, err := f.tlsConfig()
		token, terr := f.token()
		f.conn = client.New(client.Config{NodeURL: f.NodeURL, Token: token, Retries: f.Retries, RetryWait: f.RetryWait, TLS: tc})
		if err = errors.Join(err, terr); err != nil {
			f.conn.Fail(err)
		}
	}
	return f.conn
}

// tlsConfig is the client's TLS: a node's certificate and CA (--tls-dir),
// or the county CA alone (--ca), or nil for the system's roots.
func (f *Factory) tlsConfig() (*tls.Config, error) {
	switch {
	case f.TLSDir != "":
		b, err := auth.LoadBundle(f.TLSDir, time.Now())
		if err != nil {
			return nil, fmt.Errorf("--%w", err)
		}
		return b.ClientConfig(), nil
	case f.CAFile != "":
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca: %s 中没有 PEM 格式的证书", f.CAFile)
		}
		return &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool}, nil
	}
	return nil, nil
}

// HTTPClient is the client of the node(s) --node names (see client.NewHTTPClient).
func (f *Factory) HTTPClient() *http.Client { return f.nodeConn().HTTPClient() }

// Apps is the application service of the node.
func (f *Factory) Apps() jiujinv1connect.ApplicationServiceClient { return f.nodeConn().Apps() }

// Catalog is the catalog service of the node.
func (f *Factory) Catalog() jiujinv1connect.CatalogServiceClient { return f.nodeConn().Catalog() }

// Delegations is the delegation service of the node.
func (f *Factory) Delegations() jiujinv1connect.DelegationServiceClient {
	return f.nodeConn().Delegations()
}

// Enroll is the enrollment service of the node.
func (f *Factory) Enroll() jiujinv1connect.EnrollServiceClient { return f.nodeConn().Enroll() }

// Accounts is the account service of the node.
func (f *Factory) Accounts() jiujinv1connect.AccountServiceClient { return f.nodeConn().Accounts() }

// Units is the unit service of the node.
func (f *Factory) Units() jiujinv1connect.UnitServiceClient { return f.nodeConn().Units() }

// Node is the node service of the node.
func (f *Factory) Node() jiujinv1connect.NodeServiceClient { return f.nodeConn().Node() }
