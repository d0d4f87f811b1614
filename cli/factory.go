package cli

import (
	"io"
	"net/http"
	"time"

	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/cli/client"
)

// Factory holds the global options and builds clients lazily, so a verb
// that needs no node never dials one.
type Factory struct {
	NodeURL string
	Output  string
	Actor   string
	Out     io.Writer
	Err     io.Writer
	// Retries of a call the node answers Unavailable, RetryWait apart
	// (the defaults when zero: 3 and one second).
	Retries   int
	RetryWait time.Duration

	conn *client.Conn
}

// NewFactory returns a factory writing to out and errOut.
func NewFactory(out, errOut io.Writer) *Factory {
	return &Factory{Out: out, Err: errOut, Output: "text"}
}

// nodeConn is the connection to the node(s) --node names, made at its first
// use, once the flags are parsed.
func (f *Factory) nodeConn() *client.Conn {
	if f.conn == nil {
		f.conn = client.New(client.Config{NodeURL: f.NodeURL, Actor: f.Actor, Retries: f.Retries, RetryWait: f.RetryWait})
	}
	return f.conn
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

// Node is the node service of the node.
func (f *Factory) Node() jiujinv1connect.NodeServiceClient { return f.nodeConn().Node() }
