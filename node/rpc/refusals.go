package rpc

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/rules"
)

// --- ApplicationService: 不予受理

func (h *Service) RefuseApplication(ctx context.Context, req *connect.Request[pb.RefuseApplicationRequest]) (*connect.Response[pb.RefuseApplicationResponse], error) {
	cmd := h.command(ctx, req)
	cmd.Op = &pb.Command_Refuse{Refuse: req.Msg}
	out, err := h.apply(ctx, cmd)
	if err != nil {
		return nil, err
	}
	// Recorded: from here on nothing may answer with an error.
	return connect.NewResponse(&pb.RefuseApplicationResponse{Refusal: h.presentRefusal(out.(*pb.Refusal))}), nil
}

func (h *Service) ListRefusals(ctx context.Context, req *connect.Request[pb.ListRefusalsRequest]) (*connect.Response[pb.ListRefusalsResponse], error) {
	if err := h.read(ctx); err != nil {
		return nil, err
	}
	m := req.Msg
	rs, total, err := h.rules.Refusals(rules.RefusalFilter{ID: m.GetId(), MatterCode: m.GetMatterCode(), Unit: m.GetUnit(),
		From: m.GetFrom(), To: m.GetTo(), Limit: int(m.GetLimit())})
	if err != nil {
		return nil, connectError(err)
	}
	for i, r := range rs {
		rs[i] = h.presentRefusal(r)
	}
	return connect.NewResponse(&pb.ListRefusalsResponse{Refusals: rs, Total: uint32(total)}), nil
}

// presentRefusal prepares a refusal for an answer: the identity number and
// phone masked, as an application's are, and the names and the refusing
// unit's phone and address filled in.
func (h *Service) presentRefusal(r *pb.Refusal) *pb.Refusal {
	r = proto.Clone(r).(*pb.Refusal)
	if ap := r.GetApplicant(); ap != nil {
		ap.IdNumber = rules.MaskIDNumber(ap.GetIdNumber())
		ap.Phone = rules.MaskPhone(ap.GetPhone())
	}
	r.DepartmentName = h.rules.DepartmentName(r.GetDepartment())
	if units, err := h.rules.Units(); err == nil {
		u := units[r.GetUnit()]
		r.UnitName, r.UnitPhone, r.UnitAddress = u.GetName(), u.GetPhone(), u.GetAddress()
	}
	return r
}
