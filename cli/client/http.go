package client

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// NewHTTPClient returns the command line's client of nodes: HTTP/1.1,
// connections kept open. Its calls are unary, and a node answers a call
// over HTTP/1.1 with less CPU than one over HTTP/2 without TLS (h2c): in
// `jiujin bench county`, 64 writers on one box, about a fifth more
// committed writes a second (docs/benchmarks.md). Nodes speak h2c to one another,
// where a child's pushes and long polls share one connection (NewH2CClient).
//
// tc, if set, is the TLS of https URLs (the county CA to trust, and for a
// member's administrative calls its certificate).
func NewHTTPClient(tc *tls.Config) *http.Client {
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	c := nodeClient(protocols)
	c.Transport.(*http.Transport).TLSClientConfig = tc
	return c
}

// NewH2CClient returns a client of nodes speaking HTTP/2 without TLS, as
// nodes do to one another.
func NewH2CClient() *http.Client {
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
