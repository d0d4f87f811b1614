// Package client builds the command line's clients of jiujin nodes: the
// HTTP clients (HTTP/1.1 for the command line, h2c as nodes speak to one
// another), the reading of node URLs, the failover between a county
// group's members, and the interceptors that put the operator's session
// token and an idempotency key on every call and ask again, under the same key, when
// a node answers Unavailable.
//
// A Conn is the connection to the node(s) a Config names; its methods give
// the client of each service:
//
//	c := client.New(client.Config{NodeURL: "http://10.0.0.1:8080,http://10.0.0.2:8080", Token: token})
//	res, err := c.Apps().AcceptApplication(ctx, connect.NewRequest(req))
package client

import (
	"crypto/tls"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
)

// The retries of a call a node answers Unavailable, when a Config says none.
const (
	DefaultRetries   = 3
	DefaultRetryWait = time.Second
)

// Config names the node(s) to talk to and how.
type Config struct {
	// NodeURL is one node's URL, or a county group's members separated by
	// commas (see ParseNodeURLs): calls go to the first and move on to the
	// next when one cannot be reached or answers Unavailable.
	NodeURL string
	// Token is the operator's session (jiujin login), sent with every call
	// as its bearer; empty at an insecure node.
	Token string
	// Retries of a call the node answers Unavailable, RetryWait apart
	// (zero: DefaultRetries and DefaultRetryWait).
	Retries   int
	RetryWait time.Duration
	// TLS is the client's TLS for https URLs (nil: the system's roots).
	TLS *tls.Config
}

// Conn is the connection to the node(s) of a Config: one HTTP client,
// shared by the clients of every service.
type Conn struct {
	http    *http.Client
	baseURL string
	options []connect.ClientOption
}

// New returns the connection to the node(s) cfg names. It dials nothing
// until a call is made. A NodeURL that is no list of node URLs (see
// ParseNodeURLs) is used as it is, as a single base URL.
func New(cfg Config) *Conn {
	c := &Conn{http: NewHTTPClient(cfg.TLS), baseURL: strings.TrimRight(cfg.NodeURL, "/")}
	if urls, err := ParseNodeURLs(cfg.NodeURL); err == nil {
		c.baseURL = urls[0].String()
		if len(urls) > 1 {
			c.http.Transport = &memberFailover{base: c.http.Transport, urls: urls}
		}
	}
	tries, wait := cfg.Retries, cfg.RetryWait
	if tries == 0 {
		tries = DefaultRetries
	}
	if wait == 0 {
		wait = DefaultRetryWait
	}
	c.options = []connect.ClientOption{connect.WithInterceptors(tokenInterceptor(cfg.Token), RetryInterceptor(tries, wait))}
	return c
}

// Fail makes every call of the connection fail with err (a flag that
// could not be honoured, found when the first client is built).
func (c *Conn) Fail(err error) {
	c.http.Transport = failing{err}
}

type failing struct{ err error }

func (f failing) RoundTrip(*http.Request) (*http.Response, error) { return nil, f.err }

// HTTPClient is the HTTP client of the connection: NewHTTPClient's, going
// from member to member when the Config names several.
func (c *Conn) HTTPClient() *http.Client { return c.http }

// Apps is the application service of the node.
func (c *Conn) Apps() jiujinv1connect.ApplicationServiceClient {
	return jiujinv1connect.NewApplicationServiceClient(c.http, c.baseURL, c.options...)
}

// Catalog is the catalog service of the node.
func (c *Conn) Catalog() jiujinv1connect.CatalogServiceClient {
	return jiujinv1connect.NewCatalogServiceClient(c.http, c.baseURL, c.options...)
}

// Delegations is the delegation service of the node.
func (c *Conn) Delegations() jiujinv1connect.DelegationServiceClient {
	return jiujinv1connect.NewDelegationServiceClient(c.http, c.baseURL, c.options...)
}

// Enroll is the enrollment service of the node.
func (c *Conn) Enroll() jiujinv1connect.EnrollServiceClient {
	return jiujinv1connect.NewEnrollServiceClient(c.http, c.baseURL, c.options...)
}

// Accounts is the account service of the node: logins, accounts, audit.
func (c *Conn) Accounts() jiujinv1connect.AccountServiceClient {
	return jiujinv1connect.NewAccountServiceClient(c.http, c.baseURL, c.options...)
}

// Node is the node service of the node.
func (c *Conn) Node() jiujinv1connect.NodeServiceClient {
	return jiujinv1connect.NewNodeServiceClient(c.http, c.baseURL, c.options...)
}

// Units is the unit service of the node: units' names and phones.
func (c *Conn) Units() jiujinv1connect.UnitServiceClient {
	return jiujinv1connect.NewUnitServiceClient(c.http, c.baseURL, c.options...)
}

// Cluster is the cluster service of the node.
func (c *Conn) Cluster() jiujinv1connect.ClusterServiceClient {
	return jiujinv1connect.NewClusterServiceClient(c.http, c.baseURL, c.options...)
}
