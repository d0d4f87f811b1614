package web

import (
	"compress/gzip"
	"net/http"
	"strings"
	"sync"
)

// Pages go gzipped to browsers that take it: a village on 4G pays for every
// byte.

var gzipPool = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return w }}

// gzipped wraps w when the request takes gzip; done flushes it.
func gzipped(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, func()) {
	if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") || r.Method == http.MethodHead {
		return w, func() {}
	}
	w.Header().Add("Vary", "Accept-Encoding")
	g := &gzipWriter{ResponseWriter: w}
	return g, g.close
}

type gzipWriter struct {
	http.ResponseWriter
	gz      *gzip.Writer
	decided bool
	plain   bool
}

// WriteHeader decides: a response without a body, or already encoded, goes
// as it is.
func (g *gzipWriter) WriteHeader(status int) {
	if !g.decided {
		g.decided = true
		h := g.Header()
		if status < 200 || status == http.StatusNoContent || status == http.StatusNotModified || h.Get("Content-Encoding") != "" {
			g.plain = true
		} else {
			h.Del("Content-Length")
			h.Set("Content-Encoding", "gzip")
		}
	}
	g.ResponseWriter.WriteHeader(status)
}

func (g *gzipWriter) Write(b []byte) (int, error) {
	if !g.decided {
		if g.Header().Get("Content-Type") == "" {
			g.Header().Set("Content-Type", http.DetectContentType(b))
		}
		g.WriteHeader(http.StatusOK)
	}
	if g.plain {
		return g.ResponseWriter.Write(b)
	}
	if g.gz == nil {
		g.gz = gzipPool.Get().(*gzip.Writer)
		g.gz.Reset(g.ResponseWriter)
	}
	return g.gz.Write(b)
}

func (g *gzipWriter) close() {
	if g.decided && !g.plain && g.gz == nil {
		// Said gzip and wrote nothing (a redirect): an empty stream.
		g.gz = gzipPool.Get().(*gzip.Writer)
		g.gz.Reset(g.ResponseWriter)
	}
	if g.gz != nil {
		_ = g.gz.Close()
		gzipPool.Put(g.gz)
		g.gz = nil
	}
}
