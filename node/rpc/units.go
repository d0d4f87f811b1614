package rpc

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/rules"
)

// --- UnitService

func (h *Service) SetUnits(ctx context.Context, req *connect.Request[pb.SetUnitsRequest]) (*connect.Response[pb.SetUnitsResponse], error) {
	cmd := h.command(ctx, req)
	cmd.Op = &pb.Command_SetUnits{SetUnits: req.Msg}
	out, err := h.apply(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(out.(*pb.SetUnitsResponse)), nil
}

func (h *Service) ListUnits(ctx context.Context, req *connect.Request[pb.ListUnitsRequest]) (*connect.Response[pb.ListUnitsResponse], error) {
	if err := h.read(ctx); err != nil {
		return nil, err
	}
	us, err := h.rules.ListUnits(req.Msg.GetQuery())
	if err != nil {
		return nil, connectError(err)
	}
	return connect.NewResponse(&pb.ListUnitsResponse{Units: us}), nil
}

// named fills in the names of an application's units and department (a
// clone the caller owns).
func (h *Service) named(a *pb.Application) {
	units, err := h.rules.Units()
	if err != nil {
		return
	}
	a.AcceptingUnitName = units[a.GetAcceptingUnit()].GetName()
	a.ProcessingUnitName = units[a.GetProcessingUnit()].GetName()
	a.HolderName = units[a.GetHolder()].GetName()
	a.DepartmentName = h.rules.DepartmentName(a.GetDepartment())
	for _, t := range a.GetTasks() {
		t.ProcessingUnitName = units[t.GetProcessingUnit()].GetName()
		t.HolderName = units[t.GetHolder()].GetName()
		t.DepartmentName = h.rules.DepartmentName(t.GetDepartment())
	}
}

// receipt is the 受理回执 of an accepted (and presented) application: the
// units by name, and where the applicant asks and comes back.
func (h *Service) receipt(a *pb.Application, visits uint32) *pb.Receipt {
	r := &pb.Receipt{
		ApplicationId:      a.GetId(),
		MatterCode:         a.GetMatterCode(),
		MatterName:         a.GetMatterName(),
		ApplicantName:      a.GetApplicant().GetName(),
		ApplicantIdNumber:  a.GetApplicant().GetIdNumber(),
		AcceptingUnit:      a.GetAcceptingUnit(),
		AcceptingUnitName:  a.GetAcceptingUnitName(),
		ProcessingUnit:     a.GetProcessingUnit(),
		ProcessingUnitName: a.GetProcessingUnitName(),
		AcceptedAt:         a.GetAcceptedAt(),
		MaterialsReceived:  a.GetMaterialsReceived(),
		MaterialsMissing:   a.GetMaterialsMissing(),
		SupplementDue:      a.GetDeadline().GetSupplementDue(),
		PromisedDue:        a.GetDeadline().GetPromisedDue(),
		StatutoryDue:       a.GetDeadline().GetStatutoryDue(),
		Visits:             visits,
	}
	// 暂定: a due date counted on a provisional calendar year.
	r.StatutoryDueProvisional, r.PromisedDueProvisional = a.GetDeadline().GetStatutoryProvisional(), a.GetDeadline().GetPromisedProvisional()
	if units, err := h.rules.Units(); err == nil {
		u := units[a.GetAcceptingUnit()]
		r.AcceptingUnitPhone, r.AcceptingUnitAddress = u.GetPhone(), u.GetAddress()
	}
	r.CheckCode, _ = h.rules.CheckCode(a.GetId())
	return r
}

// visits is how many trips the application promised at acceptance.
func (h *Service) visits(a *pb.Application) uint32 {
	if a.Visits != nil {
		return a.GetVisits()
	}
	// Accepted by a member of an earlier release.
	if m, err := h.rules.GetMatter(a.GetMatterCode()); err == nil {
		return m.GetVisits()
	}
	return 0
}

// Names turns the names people type (a unit, matter, department, mode or
// delivery way) into the codes the rules take, before the handler runs: the
// CLI, the console and scripts may all write 城关镇, 低保, 民政 or 下放. An
// unknown or ambiguous name is refused here, naming the field.
func (h *Service) Names() connect.Interceptor { return namesInterceptor{h.rules} }

type namesInterceptor struct{ r *rules.Rules }

func (n namesInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if m, ok := req.Any().(proto.Message); ok && !req.Spec().IsClient {
			if err := n.r.Normalize(m); err != nil {
				return nil, connectError(err)
			}
		}
		return next(ctx, req)
	}
}

func (n namesInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (n namesInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
