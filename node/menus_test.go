package node

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

func TestClassesMenusOrdersAndTheNegativeList(t *testing.T) {
	ctx := context.Background()
	county := startTestNode(t, "330324", "", nil)
	county.importSeed(t)
	t1 := startChild(t, "330324101", []string{county.URL()}, nil, county.clock, "")
	t2 := startChild(t, "330324102", []string{county.URL()}, nil, county.clock, "")
	v11 := startChild(t, "330324101201", []string{t1.URL()}, nil, county.clock, "")
	eventually(t, func() bool { _, err := v11.Rules.GetMatter("MZ-005"); return err == nil }, "catalog reaches the village")

	riverside := &pb.TownshipClass{Code: "riverside", Name: "沿江型", Menu: []string{"MZ-005", "MZ-004", "NY-001"}, Townships: []string{"330324101"}}
	for _, bad := range []struct {
		c     *pb.TownshipClass
		code  connect.Code
		field string
	}{
		{&pb.TownshipClass{Code: "River Side", Name: "x"}, connect.CodeInvalidArgument, "class.code"},
		{&pb.TownshipClass{Code: "river", Name: "x", Menu: []string{"ZZ-001"}}, connect.CodeInvalidArgument, "class.menu[0]"},
		{&pb.TownshipClass{Code: "river", Name: "x", Townships: []string{"330324101201"}}, connect.CodeInvalidArgument, "class.townships[0]"},
	} {
		_, err := county.deleg.SetClass(ctx, req(&pb.SetClassRequest{Class: bad.c}))
		requireCode(t, err, bad.code, bad.field)
	}
	_, err := t1.deleg.SetClass(ctx, req(&pb.SetClassRequest{Class: riverside}))
	requireCode(t, err, connect.CodeFailedPrecondition, "unit")
	c, err := county.deleg.SetClass(ctx, req(&pb.SetClassRequest{Class: riverside}))
	require.NoError(t, err)
	require.Equal(t, uint64(1), c.Msg.GetClass().GetVersion())
	_, err = county.deleg.SetClass(ctx, req(&pb.SetClassRequest{Class: &pb.TownshipClass{Code: "mountain", Name: "山区型", Townships: []string{"330324101"}}}))
	requireCode(t, err, connect.CodeFailedPrecondition, "class.townships[0]")

	// Ordering: only a township of a class, only from its menu.
	eventually(t, func() bool { r, _ := t1.Rules.Classes(); return len(r.GetClasses()) == 1 }, "the class reaches the township")
	_, err = t2.deleg.OrderMatters(ctx, req(&pb.OrderMattersRequest{Matters: []string{"MZ-005"}}))
	requireCode(t, err, connect.CodeFailedPrecondition, "unit")
	_, err = v11.deleg.OrderMatters(ctx, req(&pb.OrderMattersRequest{Matters: []string{"MZ-005"}}))
	requireCode(t, err, connect.CodeFailedPrecondition, "unit")
	_, err = t1.deleg.OrderMatters(ctx, req(&pb.OrderMattersRequest{Matters: []string{"MZ-005", "GA-001"}}))
	requireCode(t, err, connect.CodeInvalidArgument, "matters[1]")
	o, err := t1.deleg.OrderMatters(ctx, req(&pb.OrderMattersRequest{Matters: []string{"MZ-005", "NY-001"}}))
	require.NoError(t, err)
	require.Equal(t, "riverside", o.Msg.GetOrder().GetClassCode())
	for _, n := range []*testNode{county, v11} {
		eventually(t, func() bool {
			r, _ := n.Rules.Classes()
			return len(r.GetOrders()) == 1 && r.GetOrders()[0].GetTownship() == "330324101"
		}, "the order reaches %s", n.Store.Unit())
	}
	r2, err := t2.Rules.Classes()
	require.NoError(t, err)
	require.Empty(t, r2.GetOrders(), "another township does not get it")

	// The negative list: villages may not accept MZ-005, unless proxying.
	_, err = county.deleg.SetNegativeList(ctx, req(&pb.SetNegativeListRequest{Entries: []*pb.NegativeEntry{{MatterCode: "MZ-005", Tier: "county"}}}))
	requireCode(t, err, connect.CodeInvalidArgument, "entries[0].tier")
	_, err = county.deleg.SetNegativeList(ctx, req(&pb.SetNegativeListRequest{Entries: []*pb.NegativeEntry{{MatterCode: "MZ-005", Tier: "village"}}}))
	require.NoError(t, err)
	eventually(t, func() bool { l, _ := v11.Rules.NegativeList(); return len(l.GetEntries()) == 1 }, "the negative list reaches the village")
	_, err = v11.apps.AcceptApplication(ctx, req(acceptReq()))
	requireCode(t, err, connect.CodeFailedPrecondition, "matter_code")
	t1.accept(t, acceptReq()) // a township may
	_, err = county.deleg.GrantDelegation(ctx, req(&pb.GrantDelegationRequest{MatterCode: "MZ-005", Unit: "330324101201", Mode: "proxy"}))
	require.NoError(t, err)
	eventually(t, func() bool { ds, _ := v11.Rules.Delegations(false, "MZ-005", ""); return len(ds) == 1 }, "the proxy reaches the village")
	a := v11.accept(t, acceptReq())
	require.Equal(t, "330324", a.GetProcessingUnit(), "proxying accepts and hands on; the county decides")
}
