package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/node/rpc"
)

func TestParseURLListNamesTheFlag(t *testing.T) {
	urls, err := ParseURLList("--members", " http://10.0.0.1:8080/ ,,https://b:1")
	require.NoError(t, err)
	require.Equal(t, "http://10.0.0.1:8080", urls[0].String())
	require.Equal(t, "https://b:1", urls[1].String())
	_, err = ParseURLList("--members", "http://a:1,10.0.0.2:8080")
	require.ErrorContains(t, err, `--members: "10.0.0.2:8080"`)
	_, err = ParseNodeURLs(" , ")
	require.ErrorContains(t, err, "--node: 未指定节点地址")
}

// unavailable answers every call Unavailable, as a member electing its
// leader does.
type unavailable struct {
	jiujinv1connect.UnimplementedNodeServiceHandler
}

func (unavailable) GetStatus(context.Context, *connect.Request[pb.GetStatusRequest]) (*connect.Response[pb.GetStatusResponse], error) {
	return nil, connect.NewError(connect.CodeUnavailable, errors.New("electing"))
}

// answering answers with its unit, and remembers the headers it was asked
// under.
type answering struct {
	jiujinv1connect.UnimplementedNodeServiceHandler
	auth, key string
}

func (a *answering) GetStatus(_ context.Context, req *connect.Request[pb.GetStatusRequest]) (*connect.Response[pb.GetStatusResponse], error) {
	a.auth, a.key = req.Header().Get("Authorization"), req.Header().Get(rpc.IdempotencyHeader)
	return connect.NewResponse(&pb.GetStatusResponse{Unit: "330324"}), nil
}

func serve(t *testing.T, h jiujinv1connect.NodeServiceHandler) string {
	mux := http.NewServeMux()
	mux.Handle(jiujinv1connect.NewNodeServiceHandler(h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestConnMovesOnToTheNextMember: a member answering Unavailable is left
// for the next one listed, where the call is asked again with the session
// token and an idempotency key.
func TestConnMovesOnToTheNextMember(t *testing.T) {
	next := &answering{}
	nodes := strings.Join([]string{serve(t, unavailable{}), serve(t, next) + "/"}, ",")
	c := New(Config{NodeURL: nodes, Token: "tok-1", RetryWait: time.Millisecond})
	res, err := c.Node().GetStatus(context.Background(), connect.NewRequest(&pb.GetStatusRequest{}))
	require.NoError(t, err)
	require.Equal(t, "330324", res.Msg.GetUnit())
	require.Equal(t, "Bearer tok-1", next.auth, "the session travels with the call")
	require.NotEmpty(t, next.key)
}
