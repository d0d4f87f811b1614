package sync

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/tiers"
)

func TestScopes(t *testing.T) {
	app := &pb.Scope{Units: []string{"330324101201", "330324101", "330324"}} // village to county
	catalog := &pb.Scope{Subtrees: []string{"330324"}}
	menu := &pb.Scope{Units: []string{"330324"}, Subtrees: []string{"330324101"}} // a township's order
	tests := []struct {
		name                   string
		scope                  *pb.Scope
		unit                   tiers.Unit
		reaches, leaves, holds bool
	}{
		{"app at its village", app, "330324101201", true, true, true},
		{"app at the township on its path", app, "330324101", true, true, true},
		{"app at the county", app, "330324", true, false, true},
		{"app at a sibling village", app, "330324101202", false, true, false},
		{"app at another township", app, "330324102", false, true, false},
		{"catalog at a village", catalog, "330324102201", true, true, true},
		{"catalog at the county", catalog, "330324", true, false, true},
		{"menu at its township", menu, "330324101", true, true, true},
		{"menu at one of its villages", menu, "330324101201", true, true, true},
		{"menu at another township", menu, "330324102", false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.reaches, ReachesSubtree(tt.scope, tt.unit), "reaches")
			require.Equal(t, tt.leaves, LeavesSubtree(tt.scope, tt.unit), "leaves")
			require.Equal(t, tt.holds, Holds(tt.scope, tt.unit), "holds")
		})
	}
}

func TestBackoffGrowsJittersAndResets(t *testing.T) {
	b := NewBackoff(100*time.Millisecond, 2*time.Second, 7)
	var waits []time.Duration
	for i := 0; i < 8; i++ {
		waits = append(waits, b.Next())
	}
	for i, w := range waits {
		ceil := 100 * time.Millisecond << i
		if ceil > 2*time.Second {
			ceil = 2 * time.Second
		}
		require.GreaterOrEqual(t, w, ceil/2, "wait %d", i)
		require.Less(t, w, ceil, "wait %d", i)
	}
	again := NewBackoff(100*time.Millisecond, 2*time.Second, 7)
	for i := range waits {
		require.Equal(t, waits[i], again.Next(), "the same seed replays")
	}
	b.Reset()
	require.Less(t, b.Next(), 100*time.Millisecond)
	require.Equal(t, 1, b.Failures())
}

func echoServer(t *testing.T, hits *atomic.Int64) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func post(c *http.Client, url, body string) (string, error) {
	resp, err := c.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestFaultTransport(t *testing.T) {
	var hits atomic.Int64
	srv := echoServer(t, &hits)
	ft := NewFaultTransport(http.DefaultTransport, 1)
	c := &http.Client{Transport: ft}

	got, err := post(c, srv.URL, "你好")
	require.NoError(t, err)
	require.Equal(t, "你好", got)
	require.Equal(t, int64(len("你好")), ft.BytesSent.Load())

	ft.Set(Faults{Cut: true})
	_, err = post(c, srv.URL, "x")
	require.True(t, errors.Is(err, ErrLinkCut))
	require.Equal(t, int64(1), hits.Load(), "a cut link sends nothing")

	ft.Set(Faults{DropResponse: 1})
	_, err = post(c, srv.URL, "x")
	require.Error(t, err)
	require.Equal(t, int64(2), hits.Load(), "a dropped answer: the server did the work")

	ft.Set(Faults{Duplicate: 1, Reorder: 1, MaxDelay: 5 * time.Millisecond})
	_, err = post(c, srv.URL, "x")
	require.NoError(t, err)
	ft.Wait()
	require.Equal(t, int64(4), hits.Load(), "sent twice, the copy late")

	ft.Set(Faults{Bandwidth: 1000, RTT: 20 * time.Millisecond})
	t0 := time.Now()
	_, err = post(c, srv.URL, strings.Repeat("x", 100))
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(t0), 20*time.Millisecond+2*100*time.Millisecond, "shaped: RTT plus 2 × 100 B at 1000 B/s")

	ft.Heal()
	_, err = post(c, srv.URL, "ok")
	require.NoError(t, err)
}

func TestFaultScheduleReplaysFromItsSeed(t *testing.T) {
	var hits atomic.Int64
	srv := echoServer(t, &hits)
	outcomes := func() string {
		ft := NewFaultTransport(http.DefaultTransport, 99)
		ft.Set(Faults{DropRequest: 0.5})
		c := &http.Client{Transport: ft}
		var b strings.Builder
		for i := 0; i < 40; i++ {
			if _, err := post(c, srv.URL, "x"); err != nil {
				b.WriteByte('x')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	first := outcomes()
	require.Equal(t, first, outcomes())
	require.Contains(t, first, "x")
	require.Contains(t, first, ".")
}

func TestWireCounterCountsBothWays(t *testing.T) {
	var hits atomic.Int64
	srv := echoServer(t, &hits)
	w := &WireCounter{}
	tr := w.Transport(nil)
	tr.Protocols = nil // the test server speaks HTTP/1.1
	c := &http.Client{Transport: tr}
	_, err := post(c, srv.URL, strings.Repeat("y", 1000))
	require.NoError(t, err)
	require.Greater(t, w.Written.Load(), int64(1000))
	require.Greater(t, w.Read.Load(), int64(1000))
}

// noLocal satisfies Local for configuration checks that fail before it is
// ever called.
type noLocal struct{ Local }

func TestLinkConfigIsValidated(t *testing.T) {
	_, err := NewLink(Config{})
	require.ErrorContains(t, err, "Local")
	_, err = NewLink(Config{Local: noLocal{}})
	require.ErrorContains(t, err, "parent")
	_, err = NewLink(Config{Local: noLocal{}, ParentURLs: []string{"330324.example"}})
	require.ErrorContains(t, err, "parent[0]")
	_, err = NewLink(Config{Local: noLocal{}, ParentURLs: []string{"http://a"}})
	require.ErrorContains(t, err, "HTTPClient")
}
