package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/node"
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

	httpClient *http.Client
}

// NewFactory returns a factory writing to out and errOut.
func NewFactory(out, errOut io.Writer) *Factory {
	return &Factory{Out: out, Err: errOut, Output: "text"}
}

// HTTPClient is the client of the node(s) --node names (see NewHTTPClient).
func (f *Factory) HTTPClient() *http.Client {
	if f.httpClient == nil {
		f.httpClient = NewHTTPClient()
		if urls, err := parseNodeURLs(f.NodeURL); err == nil && len(urls) > 1 {
			f.httpClient.Transport = &memberFailover{base: f.httpClient.Transport, urls: urls}
		}
	}
	return f.httpClient
}

// NewHTTPClient returns the command line's client of nodes: HTTP/1.1,
// connections kept open. Its calls are unary, and a node answers a call
// over HTTP/1.1 with less CPU than one over HTTP/2 without TLS (h2c): in
// `jiujin bench county`, 64 writers on one box, about a fifth more
// committed writes a second (see README). Nodes speak h2c to one another,
// where a child's pushes and long polls share one connection (newH2CClient).
func NewHTTPClient() *http.Client {
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	return nodeClient(protocols)
}

// newH2CClient returns a client of nodes speaking HTTP/2 without TLS, as
// nodes do to one another.
func newH2CClient() *http.Client {
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	return nodeClient(protocols)
}

func nodeClient(protocols *http.Protocols) *http.Client {
	return &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			Protocols:           protocols,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 64, // HTTP/1.1: concurrent calls keep their connections
		},
	}
}

func (f *Factory) baseURL() string {
	urls, err := parseNodeURLs(f.NodeURL)
	if err != nil || len(urls) == 0 {
		return strings.TrimRight(f.NodeURL, "/")
	}
	return urls[0].String()
}

// parseNodeURLs reads --node: one URL, or a county group's members
// separated by commas.
func parseNodeURLs(s string) ([]*url.URL, error) { return parseURLList("--node", s) }

// parseURLList reads node URLs separated by commas, given to flag.
func parseURLList(flag, s string) ([]*url.URL, error) {
	var out []*url.URL
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimRight(strings.TrimSpace(part), "/")
		if part == "" {
			continue
		}
		u, err := url.Parse(part)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%s: %q 不是节点地址（应形如 http://10.0.0.1:8080）", flag, part)
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: 未指定节点地址", flag)
	}
	return out, nil
}

// memberFailover sends each request to the current member of a county
// group and moves on to the next when one cannot be reached or answers
// Unavailable (503); the retry interceptor then asks again there, under
// the same idempotency key.
type memberFailover struct {
	base http.RoundTripper
	urls []*url.URL
	cur  atomic.Uint64
}

func (t *memberFailover) RoundTrip(r *http.Request) (*http.Response, error) {
	i := t.cur.Load()
	u := t.urls[i%uint64(len(t.urls))]
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = u.Scheme, u.Host, u.Host
	res, err := t.base.RoundTrip(r)
	if err != nil || res.StatusCode == http.StatusServiceUnavailable {
		t.cur.CompareAndSwap(i, i+1)
	}
	return res, err
}

func (f *Factory) clientOptions() []connect.ClientOption {
	tries, wait := f.Retries, f.RetryWait
	if tries == 0 {
		tries = 3
	}
	if wait == 0 {
		wait = time.Second
	}
	return []connect.ClientOption{connect.WithInterceptors(actorInterceptor(f.Actor), retryInterceptor(tries, wait))}
}

// Apps is the application service of the node.
func (f *Factory) Apps() jiujinv1connect.ApplicationServiceClient {
	return jiujinv1connect.NewApplicationServiceClient(f.HTTPClient(), f.baseURL(), f.clientOptions()...)
}

// Catalog is the catalog service of the node.
func (f *Factory) Catalog() jiujinv1connect.CatalogServiceClient {
	return jiujinv1connect.NewCatalogServiceClient(f.HTTPClient(), f.baseURL(), f.clientOptions()...)
}

// Delegations is the delegation service of the node.
func (f *Factory) Delegations() jiujinv1connect.DelegationServiceClient {
	return jiujinv1connect.NewDelegationServiceClient(f.HTTPClient(), f.baseURL(), f.clientOptions()...)
}

// Node is the node service of the node.
func (f *Factory) Node() jiujinv1connect.NodeServiceClient {
	return jiujinv1connect.NewNodeServiceClient(f.HTTPClient(), f.baseURL(), f.clientOptions()...)
}

func actorInterceptor(actor string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if actor != "" {
				// Percent-encoded: names are Chinese, headers want ASCII.
				req.Header().Set(node.ActorHeader, url.PathEscape(actor))
			}
			return next(ctx, req)
		}
	}
}

// retryInterceptor gives every call an idempotency key and, when the node
// answers Unavailable (a county group electing its leader, a node
// restarting), calls again with the same key, up to tries more times: a
// write whose first answer was lost is still applied once.
func retryInterceptor(tries int, wait time.Duration) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if req.Header().Get(node.IdempotencyHeader) == "" {
				req.Header().Set(node.IdempotencyHeader, randomKey())
			}
			for i := 0; ; i++ {
				res, err := next(ctx, req)
				if connect.CodeOf(err) != connect.CodeUnavailable || i >= tries {
					return res, err
				}
				select {
				case <-ctx.Done():
					return res, err
				case <-time.After(wait):
				}
			}
		}
	}
}

func randomKey() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
