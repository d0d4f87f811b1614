package cli

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/rules"
)

// TestUpstreamAndChildrenReadInChinese: the 上报 column and line, and a
// parent's 下级节点 section, in Chinese with Beijing times.
func TestUpstreamAndChildrenReadInChinese(t *testing.T) {
	at := func(s string) *timestamppb.Timestamp {
		tm, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return timestamppb.New(tm)
	}
	sent := &pb.Application{Upstream: &pb.Upstream{State: rules.UpstreamAtCounty,
		TownshipAt: at("2026-11-23T02:00:00Z"), CountyAt: at("2026-11-23T02:05:00Z")}}
	require.Equal(t, "已送达县级 11-23 10:05", upstreamCell(sent))
	var b bytes.Buffer
	printUpstream(&b, sent)
	require.Equal(t, "  上报：已送达县级（乡镇 2026-11-23 10:00 确认收到，县级 2026-11-23 10:05 确认收到）\n", b.String())

	cut := &pb.Application{Upstream: &pb.Upstream{State: rules.UpstreamNotSent}}
	require.Equal(t, "未送达上级", upstreamCell(cut))
	b.Reset()
	printUpstream(&b, cut)
	require.Contains(t, b.String(), "上报：未送达上级")
	require.Equal(t, "—", upstreamCell(&pb.Application{}), "at the county")

	b.Reset()
	printChildren(&b, []*pb.ChildStatus{{Unit: "330324101", UnitName: "城关镇", NodeId: "ab12", Connected: true,
		LastContact: at("2026-11-23T02:00:00Z"), PushPosition: 40, PullPosition: 90, PullKnown: true,
		EventsToChild: 3, EventsToChildExact: true, EventsAtChild: 0, EventsAtChildKnown: true,
		EventsAtChildAt: at("2026-11-23T02:00:00Z"), Quarantined: 1}})
	require.Equal(t, "下级节点：1 个\n"+
		"  城关镇（330324101） 节点 ab12：在线，最后联系 2026-11-23 10:00\n"+
		"    进度：已收其事件至第 40 位，其已取本节点事件至第 90 位；待其拉取 3 个事件，其处待上送 0 个事件（2026-11-23 10:00 报告）；隔离其事件 1 个\n", b.String())
}
