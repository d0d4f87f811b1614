// Package rpc is the node's connect handlers for people's clients (the CLI,
// scripts, the console's calls): catalog, applications, delegations, node
// status. It is the one place where errors become connect codes
// (ConnectError).
package rpc

import (
	"context"
	"crypto/sha256"
	"sort"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

// IdempotencyHeader carries a client's key for one write. A write repeated
// with the same key within an hour (a retry after a lost answer, perhaps
// at another member of a county group) is applied once and answered as
// the first time. Keys are the client's to make unique (random, at most
// 60 characters).
const IdempotencyHeader = "Idempotency-Key"

// Config is what the handlers serve.
type Config struct {
	Rules *rules.Rules
	// Write applies a command through the node's writer: the store, or a
	// county group's log.
	Write func(ctx context.Context, cmd *pb.Command) (proto.Message, error)
	// Barrier, for a member of a county group, makes reads linearizable.
	Barrier func(ctx context.Context) error
	// Links describes the links to the parent (nil: none); Children the
	// node's children, as their parent sees them (nil: none).
	Links    func() []*pb.LinkStatus
	Children func() ([]*pb.ChildStatus, error)
	Version  string
	Started  time.Time
	// TLS is the node's certificate (nil: the node runs insecure).
	TLS *auth.Bundle
	// Accounts logs operators in; its interceptor puts the operator of
	// every call in the call's context.
	Accounts *auth.Accounts
}

// Service implements the catalog, application, delegation and node
// services over the rules. Handlers turn requests into commands, apply
// them, and present the records: identity numbers masked, deadlines
// computed.
type Service struct {
	rules    *rules.Rules
	store    *store.Store
	write    func(ctx context.Context, cmd *pb.Command) (proto.Message, error)
	barrier  func(ctx context.Context) error
	links    func() []*pb.LinkStatus
	children func() ([]*pb.ChildStatus, error)
	version  string
	started  time.Time
	tls      *auth.Bundle
	accounts *auth.Accounts
	enrolls  window
}

// New builds the handlers.
func New(cfg Config) *Service {
	links := cfg.Links
	if links == nil {
		links = func() []*pb.LinkStatus { return nil }
	}
	return &Service{rules: cfg.Rules, store: cfg.Rules.Store(), write: cfg.Write, barrier: cfg.Barrier,
		links: links, children: cfg.Children, version: cfg.Version, started: cfg.Started, tls: cfg.TLS, accounts: cfg.Accounts}
}

// read waits, at a group member, until reads see every acknowledged write.
// Every read of the county's records goes through it; the node status does
// not, as it describes this member (its links, its feed, its view of the
// group) rather than the county's records.
func (h *Service) read(ctx context.Context) error {
	if h.barrier == nil {
		return nil
	}
	return connectError(h.barrier(ctx))
}

// command is a command made by the caller: its operator (from the
// session) is the actor, its address the source, and a client's
// idempotency key the request id.
func (h *Service) command(ctx context.Context, req connect.AnyRequest) *pb.Command {
	cmd := &pb.Command{NowMs: h.store.Now().UnixMilli()}
	if op := auth.OperatorFrom(ctx); op != nil {
		cmd.Actor, cmd.ActorLogin, cmd.Source = op.Name, op.Login, op.Source
	}
	if key := strings.TrimSpace(req.Header().Get(IdempotencyHeader)); key != "" {
		// Apart from the ids members give the commands they hand over.
		cmd.RequestId = "c:" + key
		if m, ok := req.Any().(proto.Message); ok {
			if b, err := (proto.MarshalOptions{Deterministic: true}).Marshal(withoutSecrets(m)); err == nil {
				d := sha256.Sum256(append([]byte(req.Spec().Procedure+"\n"), b...))
				cmd.RequestDigest = d[:]
			}
		}
	}
	return cmd
}

// secretFields are request fields that carry a password: left out of a
// request's digest, which is kept for an hour and would otherwise be an
// unsalted hash of the password.
var secretFields = map[protoreflect.Name]bool{"password": true, "reset_password": true, "new_password": true}

func withoutSecrets(m proto.Message) proto.Message {
	fields := m.ProtoReflect().Descriptor().Fields()
	var c protoreflect.Message
	for i := range fields.Len() {
		if f := fields.Get(i); secretFields[f.Name()] {
			if c == nil {
				c = proto.Clone(m).ProtoReflect()
			}
			c.Clear(f)
		}
	}
	if c == nil {
		return m
	}
	return c.Interface()
}

func (h *Service) apply(ctx context.Context, cmd *pb.Command) (proto.Message, error) {
	out, err := h.write(ctx, cmd)
	return out, connectError(err)
}

// present prepares an application for an answer.
func (h *Service) present(a *pb.Application, reveal bool) *pb.Application {
	a = proto.Clone(a).(*pb.Application)
	if !reveal && a.GetApplicant() != nil {
		a.Applicant.IdNumber = rules.MaskIDNumber(a.GetApplicant().GetIdNumber())
		a.Applicant.Phone = rules.MaskPhone(a.GetApplicant().GetPhone())
	}
	a.Deadline = h.rules.Deadline(a, h.store.Now())
	h.named(a)
	a.Upstream = h.rules.Upstream(a.GetId())
	return a
}

func (h *Service) appResult(out proto.Message, err error) (*pb.Application, error) {
	if err != nil {
		return nil, err
	}
	return h.present(out.(*pb.Application), false), nil
}

// appOrRequest: a withdrawal or supply at a window that does not hold the
// application yields a request; answer with the application as it stands.
func (h *Service) appOrRequest(out proto.Message, err error) (*pb.Application, *pb.Request, error) {
	if err != nil {
		return nil, nil, err
	}
	if r, ok := out.(*pb.Request); ok {
		a, _, err := h.rules.GetApplication(r.GetApplicationId())
		if err != nil {
			return nil, nil, connectError(err)
		}
		return h.present(a, false), r, nil
	}
	return h.present(out.(*pb.Application), false), nil, nil
}

// --- CatalogService

func (h *Service) ImportCatalog(ctx context.Context, req *connect.Request[pb.ImportCatalogRequest]) (*connect.Response[pb.ImportCatalogResponse], error) {
	cmd := h.command(ctx, req)
	cmd.Op = &pb.Command_ImportCatalog{ImportCatalog: req.Msg}
	out, err := h.apply(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(out.(*pb.ImportCatalogResponse)), nil
}

func (h *Service) ListMatters(ctx context.Context, req *connect.Request[pb.ListMattersRequest]) (*connect.Response[pb.ListMattersResponse], error) {
	if err := h.read(ctx); err != nil {
		return nil, err
	}
	cat, err := h.rules.Catalog()
	if err != nil {
		return nil, connectError(err)
	}
	ms, err := h.rules.ListMatters(req.Msg)
	if err != nil {
		return nil, connectError(err)
	}
	return connect.NewResponse(&pb.ListMattersResponse{Version: cat.GetVersion(), Title: cat.GetTitle(), Departments: cat.GetDepartments(), Matters: ms}), nil
}

func (h *Service) GetMatter(ctx context.Context, req *connect.Request[pb.GetMatterRequest]) (*connect.Response[pb.GetMatterResponse], error) {
	if err := h.read(ctx); err != nil {
		return nil, err
	}
	m, err := h.rules.GetMatter(req.Msg.GetCode())
	if err != nil {
		return nil, connectError(err)
	}
	cat, err := h.rules.Catalog()
	if err != nil {
		return nil, connectError(err)
	}
	return connect.NewResponse(&pb.GetMatterResponse{Matter: m, CatalogVersion: cat.GetVersion()}), nil
}

// --- ApplicationService

func (h *Service) AcceptApplication(ctx context.Context, req *connect.Request[pb.AcceptApplicationRequest]) (*connect.Response[pb.AcceptApplicationResponse], error) {
	cmd := h.command(ctx, req)
	cmd.Op = &pb.Command_Accept{Accept: req.Msg}
	a, err := h.appResult(h.apply(ctx, cmd))
	if err != nil {
		return nil, err
	}
	// The acceptance is committed: nothing from here on may answer with an
	// error (the window would take the application as not accepted). The
	// receipt's promise comes from the application itself, not from the
	// catalog, which may have changed since.
	return connect.NewResponse(&pb.AcceptApplicationResponse{Application: a, Receipt: h.receipt(a, h.visits(a))}), nil
}

func (h *Service) ListApplications(ctx context.Context, req *connect.Request[pb.ListApplicationsRequest]) (*connect.Response[pb.ListApplicationsResponse], error) {
	if err := h.read(ctx); err != nil {
		return nil, err
	}
	f := rules.AppFilter{
		State: req.Msg.GetState(), MatterCode: req.Msg.GetMatterCode(), Department: req.Msg.GetDepartment(),
		OverdueOnly: req.Msg.GetOverdueOnly(), HeldOnly: req.Msg.GetHeldOnly(), Mine: req.Msg.GetMine(),
		ApplicantID: req.Msg.GetApplicantIdSha256(), Limit: int(req.Msg.GetLimit()), Offset: int(req.Msg.GetOffset()),
	}
	switch req.Msg.GetOrder() {
	case "due":
		f.Due = true
	case "":
	default:
		return nil, connectError(store.Invalid("order", "%q 应为 due（最早到期的在前）或空（最新的在前）", req.Msg.GetOrder()))
	}
	if ap := strings.TrimSpace(req.Msg.GetApplicant()); rules.LooksLikeIDNumber(ap) {
		// Searched by its digest: the number goes no further than here.
		f.ApplicantID = rules.IDDigest(ap)
	} else {
		f.ApplicantName = ap
	}
	as, total, err := h.rules.ListApplications(f)
	if err != nil {
		return nil, connectError(err)
	}
	for i, a := range as {
		as[i] = h.present(a, false)
	}
	return connect.NewResponse(&pb.ListApplicationsResponse{Applications: as, Total: uint32(total)}), nil
}

func (h *Service) GetApplication(ctx context.Context, req *connect.Request[pb.GetApplicationRequest]) (*connect.Response[pb.GetApplicationResponse], error) {
	if req.Msg.GetReveal() {
		if op := auth.OperatorFrom(ctx); !op.Has(rules.RoleAuditor) {
			return nil, connectError(auth.Forbidden("只有审计员可以查看完整身份证号，%s 不是审计员", op.Login))
		}
		// Audit first: nobody sees the number without a durable record.
		cmd := h.command(ctx, req)
		cmd.Op = &pb.Command_Reveal{Reveal: &pb.RevealAudit{ApplicationId: req.Msg.GetId(), Reason: req.Msg.GetRevealReason()}}
		if _, err := h.apply(ctx, cmd); err != nil {
			return nil, err
		}
	}
	if err := h.read(ctx); err != nil {
		return nil, err
	}
	a, hist, err := h.rules.GetApplication(req.Msg.GetId())
	if err != nil {
		return nil, connectError(err)
	}
	a = h.present(a, req.Msg.GetReveal())
	return connect.NewResponse(&pb.GetApplicationResponse{Application: a, History: hist, Receipt: h.receipt(a, h.visits(a))}), nil
}

func (h *Service) RequestSupplement(ctx context.Context, req *connect.Request[pb.RequestSupplementRequest]) (*connect.Response[pb.RequestSupplementResponse], error) {
	if err := h.mayDecide(ctx, req.Msg.GetId(), ""); err != nil {
		return nil, err
	}
	cmd := h.command(ctx, req)
	cmd.Op = &pb.Command_RequestSupplement{RequestSupplement: req.Msg}
	a, err := h.appResult(h.apply(ctx, cmd))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.RequestSupplementResponse{Application: a}), nil
}

func (h *Service) SupplyMaterials(ctx context.Context, req *connect.Request[pb.SupplyMaterialsRequest]) (*connect.Response[pb.SupplyMaterialsResponse], error) {
	cmd := h.command(ctx, req)
	cmd.Op = &pb.Command_Supply{Supply: req.Msg}
	a, r, err := h.appOrRequest(h.apply(ctx, cmd))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.SupplyMaterialsResponse{Application: a, Request: r}), nil
}

func (h *Service) DecideApplication(ctx context.Context, req *connect.Request[pb.DecideApplicationRequest]) (*connect.Response[pb.DecideApplicationResponse], error) {
	if err := h.mayDecide(ctx, req.Msg.GetId(), req.Msg.GetPart()); err != nil {
		return nil, err
	}
	cmd := h.command(ctx, req)
	cmd.Op = &pb.Command_Decide{Decide: req.Msg}
	a, err := h.appResult(h.apply(ctx, cmd))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.DecideApplicationResponse{Application: a}), nil
}

func (h *Service) DeliverApplication(ctx context.Context, req *connect.Request[pb.DeliverApplicationRequest]) (*connect.Response[pb.DeliverApplicationResponse], error) {
	cmd := h.command(ctx, req)
	cmd.Op = &pb.Command_Deliver{Deliver: req.Msg}
	a, err := h.appResult(h.apply(ctx, cmd))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.DeliverApplicationResponse{Application: a}), nil
}

func (h *Service) RateApplication(ctx context.Context, req *connect.Request[pb.RateApplicationRequest]) (*connect.Response[pb.RateApplicationResponse], error) {
	cmd := h.command(ctx, req)
	cmd.Op = &pb.Command_Rate{Rate: req.Msg}
	a, err := h.appResult(h.apply(ctx, cmd))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.RateApplicationResponse{Application: a}), nil
}

func (h *Service) WithdrawApplication(ctx context.Context, req *connect.Request[pb.WithdrawApplicationRequest]) (*connect.Response[pb.WithdrawApplicationResponse], error) {
	cmd := h.command(ctx, req)
	cmd.Op = &pb.Command_Withdraw{Withdraw: req.Msg}
	a, r, err := h.appOrRequest(h.apply(ctx, cmd))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.WithdrawApplicationResponse{Application: a, Request: r}), nil
}

func (h *Service) ForwardApplication(ctx context.Context, req *connect.Request[pb.ForwardApplicationRequest]) (*connect.Response[pb.ForwardApplicationResponse], error) {
	cmd := h.command(ctx, req)
	cmd.Op = &pb.Command_Forward{Forward: req.Msg}
	a, err := h.appResult(h.apply(ctx, cmd))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.ForwardApplicationResponse{Application: a}), nil
}

func (h *Service) ListFollowUps(ctx context.Context, req *connect.Request[pb.ListFollowUpsRequest]) (*connect.Response[pb.ListFollowUpsResponse], error) {
	if err := h.read(ctx); err != nil {
		return nil, err
	}
	fs, err := h.rules.FollowUps(req.Msg.GetOpenOnly())
	if err != nil {
		return nil, connectError(err)
	}
	return connect.NewResponse(&pb.ListFollowUpsResponse{FollowUps: fs}), nil
}

func (h *Service) UpdateFollowUp(ctx context.Context, req *connect.Request[pb.UpdateFollowUpRequest]) (*connect.Response[pb.UpdateFollowUpResponse], error) {
	cmd := h.command(ctx, req)
	cmd.Op = &pb.Command_FollowUp{FollowUp: req.Msg}
	out, err := h.apply(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.UpdateFollowUpResponse{FollowUp: out.(*pb.FollowUp)}), nil
}

// --- DelegationService

func (h *Service) GrantDelegation(ctx context.Context, req *connect.Request[pb.GrantDelegationRequest]) (*connect.Response[pb.GrantDelegationResponse], error) {
	cmd := h.command(ctx, req)
	cmd.Op = &pb.Command_Grant{Grant: req.Msg}
	out, err := h.apply(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.GrantDelegationResponse{Delegation: out.(*pb.Delegation)}), nil
}

func (h *Service) RevokeDelegation(ctx context.Context, req *connect.Request[pb.RevokeDelegationRequest]) (*connect.Response[pb.RevokeDelegationResponse], error) {
	cmd := h.command(ctx, req)
	cmd.Op = &pb.Command_Revoke{Revoke: req.Msg}
	out, err := h.apply(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.RevokeDelegationResponse{Delegation: out.(*pb.Delegation)}), nil
}

func (h *Service) ListDelegations(ctx context.Context, req *connect.Request[pb.ListDelegationsRequest]) (*connect.Response[pb.ListDelegationsResponse], error) {
	if err := h.read(ctx); err != nil {
		return nil, err
	}
	ds, err := h.rules.Delegations(req.Msg.GetAll(), req.Msg.GetMatterCode(), req.Msg.GetUnit())
	if err != nil {
		return nil, connectError(err)
	}
	return connect.NewResponse(&pb.ListDelegationsResponse{Delegations: ds}), nil
}

func (h *Service) Route(ctx context.Context, req *connect.Request[pb.RouteRequest]) (*connect.Response[pb.RouteResponse], error) {
	if err := h.read(ctx); err != nil {
		return nil, err
	}
	acc := req.Msg.GetAcceptingUnit()
	if acc == "" {
		acc = string(h.rules.Unit())
	}
	u, err := tiers.Parse(acc)
	if err != nil {
		return nil, connectError(store.Invalid("accepting_unit", "%v", err))
	}
	p, d, err := h.rules.Route(req.Msg.GetMatterCode(), u)
	if err != nil {
		return nil, connectError(err)
	}
	res := &pb.RouteResponse{ProcessingUnit: string(p), DelegationId: d.GetId(), Mode: d.GetMode()}
	for _, x := range tiers.Path(u, p) {
		res.Path = append(res.Path, string(x))
	}
	return connect.NewResponse(res), nil
}

func (h *Service) SetClass(ctx context.Context, req *connect.Request[pb.SetClassRequest]) (*connect.Response[pb.SetClassResponse], error) {
	cmd := h.command(ctx, req)
	cmd.Op = &pb.Command_SetClass{SetClass: req.Msg}
	out, err := h.apply(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.SetClassResponse{Class: out.(*pb.TownshipClass)}), nil
}

func (h *Service) ListClasses(ctx context.Context, req *connect.Request[pb.ListClassesRequest]) (*connect.Response[pb.ListClassesResponse], error) {
	if err := h.read(ctx); err != nil {
		return nil, err
	}
	res, err := h.rules.Classes()
	if err != nil {
		return nil, connectError(err)
	}
	return connect.NewResponse(res), nil
}

func (h *Service) OrderMatters(ctx context.Context, req *connect.Request[pb.OrderMattersRequest]) (*connect.Response[pb.OrderMattersResponse], error) {
	cmd := h.command(ctx, req)
	cmd.Op = &pb.Command_Order{Order: req.Msg}
	out, err := h.apply(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.OrderMattersResponse{Order: out.(*pb.TownshipOrder)}), nil
}

func (h *Service) SetNegativeList(ctx context.Context, req *connect.Request[pb.SetNegativeListRequest]) (*connect.Response[pb.SetNegativeListResponse], error) {
	cmd := h.command(ctx, req)
	cmd.Op = &pb.Command_SetNegative{SetNegative: req.Msg}
	out, err := h.apply(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.SetNegativeListResponse{List: out.(*pb.NegativeList)}), nil
}

func (h *Service) GetNegativeList(ctx context.Context, req *connect.Request[pb.GetNegativeListRequest]) (*connect.Response[pb.GetNegativeListResponse], error) {
	if err := h.read(ctx); err != nil {
		return nil, err
	}
	l, err := h.rules.NegativeList()
	if err != nil {
		return nil, connectError(err)
	}
	return connect.NewResponse(&pb.GetNegativeListResponse{List: l}), nil
}

// --- NodeService

func (h *Service) GetStats(ctx context.Context, req *connect.Request[pb.GetStatsRequest]) (*connect.Response[pb.GetStatsResponse], error) {
	if err := h.read(ctx); err != nil {
		return nil, err
	}
	res, err := h.rules.Stats(req.Msg)
	if err != nil {
		return nil, connectError(err)
	}
	res.Unit, res.UnitName = req.Msg.GetUnit(), h.rules.UnitName(req.Msg.GetUnit())
	res.Department, res.DepartmentName = req.Msg.GetDepartment(), h.rules.DepartmentName(req.Msg.GetDepartment())
	return connect.NewResponse(res), nil
}

func (h *Service) GetStatus(ctx context.Context, req *connect.Request[pb.GetStatusRequest]) (*connect.Response[pb.GetStatusResponse], error) {
	s, r := h.store, h.rules
	c, err := r.Counts()
	if err != nil {
		return nil, connectError(err)
	}
	cat, err := r.Catalog()
	if err != nil {
		return nil, connectError(err)
	}
	res := &pb.GetStatusResponse{
		Unit: string(r.Unit()), Tier: r.Unit().Tier().String(), NodeId: s.NodeID(), Epoch: s.Epoch(),
		FeedHead: s.FeedHead(), CatalogVersion: cat.GetVersion(), Matters: uint32(c.Matters),
		Applications: c.Applications, Overdue: c.Overdue, StartedAt: timestamppb.New(h.started),
		Version: h.version, Parent: string(r.Unit().Parent()), Links: h.links(),
	}
	q, held := s.SyncCounts()
	res.Quarantined, res.HeldBack = q, held
	if h.children != nil {
		if res.Children, err = h.children(); err != nil {
			return nil, connectError(err)
		}
	}
	if h.tls == nil {
		res.Insecure = true
	} else {
		leaf := h.tls.Current().Leaf
		res.Certificate, res.CertificateSerial = h.tls.Self.String(), auth.Serial(leaf)
		res.CertificateNotAfter = timestamppb.New(leaf.NotAfter)
	}
	recent, err := s.Quarantine(10)
	if err != nil {
		return nil, connectError(err)
	}
	for _, e := range recent {
		ev := e.GetEvent()
		res.RecentQuarantine = append(res.RecentQuarantine, &pb.QuarantinedEvent{Origin: ev.GetOrigin(), Seq: ev.GetSeq(),
			Kind: ev.GetKind(), RecordKey: ev.GetRecordKey(), Unit: ev.GetUnit(), Reason: e.GetReason(), FromUnit: e.GetFromUnit(),
			At: timestamppb.New(time.UnixMilli(e.GetAtMs()))})
	}
	sums, err := s.QuarantineSummaries()
	if err != nil {
		return nil, connectError(err)
	}
	for _, e := range sums {
		res.RecentQuarantine = append(res.RecentQuarantine, &pb.QuarantinedEvent{Reason: e.GetReason(), FromUnit: e.GetFromUnit(),
			At: timestamppb.New(time.UnixMilli(e.GetAtMs()))})
	}
	for st, n := range c.ByState {
		res.ByState = append(res.ByState, &pb.StateCount{State: st, Count: n})
	}
	order := map[string]int{}
	for i, st := range rules.States {
		order[st] = i
	}
	sort.Slice(res.ByState, func(i, j int) bool { return order[res.ByState[i].State] < order[res.ByState[j].State] })
	return connect.NewResponse(res), nil
}
