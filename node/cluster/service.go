package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/node/rpc"
	"github.com/jiujin/jiujin/node/store"
)

// Service serves ClusterService at every county node; at one that is not
// a member it refuses.
type Service struct {
	live    *Live // nil: not a member
	st      *store.Store
	url     string
	version string
}

// NewService serves the cluster service of a node whose membership live
// holds (nil: the node is not a member).
func NewService(live *Live, st *store.Store, url, version string) *Service {
	return &Service{live: live, st: st, url: url, version: version}
}

func (h *Service) raft() (*Cluster, error) {
	var c *Cluster
	if h.live != nil {
		c = h.live.Get()
	}
	switch {
	case c == nil && h.live != nil:
		// Still opening its raft log after a restart: a member forwarding
		// a write here must try again, not take this for a refusal.
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("本成员正在启动，尚未加入集群"))
	case c == nil:
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("本节点不在集群中"))
	}
	return c, nil
}

// leading is the member a membership change runs on: this one when it
// leads, else a client of the leader to forward the call to.
func (h *Service) leading() (*Cluster, jiujinv1connect.ClusterServiceClient, error) {
	c, err := h.raft()
	if err != nil {
		return nil, nil, err
	}
	leader, err := c.leaderClient()
	if err != nil {
		return nil, nil, err
	}
	return c, leader, nil
}

func (h *Service) GetClusterStatus(ctx context.Context, req *connect.Request[pb.GetClusterStatusRequest]) (*connect.Response[pb.GetClusterStatusResponse], error) {
	c, err := h.raft()
	if err != nil {
		return nil, err
	}
	f := c.r.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, rpc.ConnectError(err)
	}
	_, leader := c.r.LeaderWithID()
	res := &pb.GetClusterStatusResponse{Leader: string(leader), State: c.r.State().String(), Applied: h.st.Applied(), Id: h.url}
	fmt.Sscan(c.r.Stats()["last_snapshot_index"], &res.SnapshotIndex)
	res.SnapshotsInstalled = c.fsm.installed.Load()
	res.Reads, res.Version = []string{logReadsBatch}, h.version
	if res.ValueLogBytes, err = h.st.ValueLogBytes(); err != nil {
		return nil, rpc.ConnectError(fmt.Errorf("value log of the store: %w", err))
	}
	for _, s := range f.Configuration().Servers {
		suffrage := "voter"
		if s.Suffrage != raft.Voter {
			suffrage = "nonvoter"
		}
		m := &pb.Member{Id: string(s.ID), Address: string(s.Address), Suffrage: suffrage, Leader: s.ID == leader}
		c.describe(m)
		res.Members = append(res.Members, m)
	}
	return connect.NewResponse(res), nil
}

func (h *Service) JoinCluster(ctx context.Context, req *connect.Request[pb.JoinClusterRequest]) (*connect.Response[pb.JoinClusterResponse], error) {
	c, leader, err := h.leading()
	if err != nil {
		return nil, err
	}
	if leader != nil {
		return leader.JoinCluster(ctx, req)
	}
	if err := c.r.AddVoter(raft.ServerID(req.Msg.GetId()), raft.ServerAddress(req.Msg.GetAddress()), 0, 10*time.Second).Error(); err != nil {
		return nil, connect.NewError(connect.CodeUnavailable, err)
	}
	return connect.NewResponse(&pb.JoinClusterResponse{}), nil
}

func (h *Service) RemoveMember(ctx context.Context, req *connect.Request[pb.RemoveMemberRequest]) (*connect.Response[pb.RemoveMemberResponse], error) {
	c, leader, err := h.leading()
	if err != nil {
		return nil, err
	}
	if leader != nil {
		return leader.RemoveMember(ctx, req)
	}
	f := c.r.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, connect.NewError(connect.CodeUnavailable, err)
	}
	var ids []string
	for _, s := range f.Configuration().Servers {
		ids = append(ids, string(s.ID))
	}
	if !slices.Contains(ids, req.Msg.GetId()) {
		// raft takes an unknown id as done: say it is not a member.
		return nil, rpc.ConnectError(store.NotFound("id", "%s 不是集群成员（成员：%s）", req.Msg.GetId(), strings.Join(ids, "、")))
	}
	if err := c.r.RemoveServer(raft.ServerID(req.Msg.GetId()), 0, 10*time.Second).Error(); err != nil {
		return nil, connect.NewError(connect.CodeUnavailable, err)
	}
	return connect.NewResponse(&pb.RemoveMemberResponse{}), nil
}

func (h *Service) Propose(ctx context.Context, req *connect.Request[pb.ProposeRequest]) (*connect.Response[pb.ProposeResponse], error) {
	c, err := h.raft()
	if err != nil {
		return nil, err
	}
	if c.r.State() != raft.Leader {
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("不是主节点"))
	}
	cmd := &pb.Command{}
	if err := proto.Unmarshal(req.Msg.GetCommand(), cmd); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("command: %w", err))
	}
	out, index, err := c.propose(ctx, cmd)
	if err != nil {
		return nil, rpc.ConnectError(err)
	}
	res := &pb.ProposeResponse{Index: index}
	if out != nil {
		if res.Result, err = anypb.New(out); err != nil {
			return nil, rpc.ConnectError(err)
		}
	}
	return connect.NewResponse(res), nil
}

func (h *Service) ReadIndex(ctx context.Context, req *connect.Request[pb.ReadIndexRequest]) (*connect.Response[pb.ReadIndexResponse], error) {
	c, err := h.raft()
	if err != nil {
		return nil, err
	}
	index, err := c.leaderReadIndex()
	if err != nil {
		return nil, connect.NewError(connect.CodeUnavailable, err)
	}
	return connect.NewResponse(&pb.ReadIndexResponse{Index: index}), nil
}
