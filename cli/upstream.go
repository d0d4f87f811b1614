package cli

import (
	"fmt"
	"io"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/node/rules"
)

// The honest offline state: where an application stands upstream (`app
// list`, `app show`), and a parent's children (`status`).

// upstreamCell is the 上报 column of `app list`: 未送达上级, or where it
// arrived and when (Beijing time, month and day).
func upstreamCell(a *pb.Application) string {
	u := a.GetUpstream()
	if u == nil {
		return "—"
	}
	at := u.GetCountyAt()
	if u.GetState() == rules.UpstreamAtTownship {
		at = u.GetTownshipAt()
	}
	if at == nil {
		return rules.UpstreamLabel(u.GetState())
	}
	return rules.UpstreamLabel(u.GetState()) + " " + at.AsTime().In(delegation.China).Format("01-02 15:04")
}

// printUpstream is the 上报 line of `app show`.
func printUpstream(w io.Writer, a *pb.Application) {
	u := a.GetUpstream()
	if u == nil {
		return
	}
	var at []string
	if t := u.GetTownshipAt(); t != nil {
		at = append(at, "乡镇 "+when(t)+" 确认收到")
	}
	if t := u.GetCountyAt(); t != nil {
		at = append(at, "县级 "+when(t)+" 确认收到")
	}
	line := "  上报：" + rules.UpstreamLabel(u.GetState())
	if len(at) > 0 {
		line += "（" + strings.Join(at, "，") + "）"
	}
	if u.GetState() == rules.UpstreamNotSent {
		line += "（本单位最近的办理尚未被上级确认收到，链路恢复后自动送出）"
	}
	fmt.Fprintln(w, line)
}

// printChildren is the 下级节点 section of a parent's `status`.
func printChildren(w io.Writer, kids []*pb.ChildStatus) {
	if len(kids) == 0 {
		return
	}
	fmt.Fprintf(w, "下级节点：%d 个\n", len(kids))
	for _, c := range kids {
		unit := c.GetUnit()
		if c.GetUnitName() != "" {
			unit = c.GetUnitName() + "（" + c.GetUnit() + "）"
		}
		state := "未连接"
		if c.GetConnected() {
			state = "在线"
		}
		fmt.Fprintf(w, "  %s 节点 %s：%s，最后联系 %s\n", unit, c.GetNodeId(), state, whenOrNever(c.GetLastContact()))
		toChild := "未知（本次启动后尚未拉取）"
		if c.GetPullKnown() {
			toChild = fmt.Sprintf("%d 个事件", c.GetEventsToChild())
			if !c.GetEventsToChildExact() {
				toChild = "至多 " + toChild
			}
		}
		atChild := "未知"
		if c.GetEventsAtChildKnown() {
			atChild = fmt.Sprintf("%d 个事件（%s 报告）", c.GetEventsAtChild(), when(c.GetEventsAtChildAt()))
		}
		pulled := "未知"
		if c.GetPullKnown() {
			pulled = fmt.Sprint(c.GetPullPosition())
		}
		fmt.Fprintf(w, "    进度：已收其事件至第 %d 位，其已取本节点事件至第 %s 位；待其拉取 %s，其处待上送 %s；隔离其事件 %d 个\n",
			c.GetPushPosition(), pulled, toChild, atChild, c.GetQuarantined())
		if c.GetChildrenAt() != nil {
			fmt.Fprintf(w, "    其下级 %d 个（%s 报告）：\n", len(c.GetChildren()), when(c.GetChildrenAt()))
			for _, g := range c.GetChildren() {
				state := "未连接"
				if g.GetConnected() {
					state = "在线"
				}
				fmt.Fprintf(w, "      %s：%s，最后联系 %s，待其拉取 %d 个事件，隔离 %d 个\n",
					unitLabel(g.GetUnit(), g.GetUnitName()), state, whenOrNever(g.GetLastContact()), g.GetEventsToChild(), g.GetQuarantined())
			}
		}
	}
}

func whenOrNever(t *timestamppb.Timestamp) string {
	if t == nil {
		return "从未"
	}
	return when(t)
}
