package rpc

import (
	"context"
	gosync "sync"
	"time"

	"connectrpc.com/connect"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/store"
)

// maxEnrollsPerMinute bounds the enrollments a node takes from callers
// without a certificate: a new box asks once, and again after a restart.
const maxEnrollsPerMinute = 30

// window counts calls in the current minute.
type window struct {
	mu    gosync.Mutex
	start time.Time
	n     int
}

func (w *window) allow(now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if now.Sub(w.start) >= time.Minute {
		w.start, w.n = now, 0
	}
	w.n++
	return w.n <= maxEnrollsPerMinute
}

// Enroll records a new box's request for a certificate, for the county.
func (h *Service) Enroll(ctx context.Context, req *connect.Request[pb.EnrollRequest]) (*connect.Response[pb.EnrollResponse], error) {
	if h.tls == nil {
		return nil, connectError(store.Precondition("node", "insecure 节点不签发证书"))
	}
	if !h.enrolls.allow(time.Now()) {
		return nil, connect.NewError(connect.CodeResourceExhausted, errTooManyEnrolls)
	}
	m := req.Msg
	cmd := h.command(ctx, req)
	cmd.Actor = "新节点入网"
	cmd.Op = &pb.Command_Enroll{Enroll: &pb.Enrollment{Unit: m.GetUnit(), PublicKey: m.GetPublicKey(), Hosts: m.GetHosts(), Proof: m.GetProof()}}
	out, err := h.apply(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.EnrollResponse{Enrollment: out.(*pb.Enrollment)}), nil
}

// GetEnrollment is an enrollment with the CA's answer, once it is here.
func (h *Service) GetEnrollment(ctx context.Context, req *connect.Request[pb.GetEnrollmentRequest]) (*connect.Response[pb.GetEnrollmentResponse], error) {
	e, err := h.rules.Enrollment(req.Msg.GetId())
	if err != nil {
		return nil, connectError(err)
	}
	return connect.NewResponse(&pb.GetEnrollmentResponse{Enrollment: e}), nil
}

// ListEnrollments lists the enrollments this node holds.
func (h *Service) ListEnrollments(ctx context.Context, req *connect.Request[pb.ListEnrollmentsRequest]) (*connect.Response[pb.ListEnrollmentsResponse], error) {
	if err := h.read(ctx); err != nil {
		return nil, err
	}
	es, err := h.rules.Enrollments(req.Msg.GetPendingOnly())
	if err != nil {
		return nil, connectError(err)
	}
	return connect.NewResponse(&pb.ListEnrollmentsResponse{Enrollments: es}), nil
}

// AnswerEnrollment publishes the CA's answer to an enrollment.
func (h *Service) AnswerEnrollment(ctx context.Context, req *connect.Request[pb.AnswerEnrollmentRequest]) (*connect.Response[pb.AnswerEnrollmentResponse], error) {
	if h.tls == nil {
		return nil, connectError(store.Precondition("node", "insecure 节点不签发证书"))
	}
	if der := req.Msg.GetCertificate(); len(der) > 0 {
		e, err := h.rules.Enrollment(req.Msg.GetId())
		if err != nil {
			return nil, connectError(err)
		}
		if err := h.tls.CheckEnrolled(e, der, time.Now()); err != nil {
			return nil, connectError(store.Invalid("certificate", "%v", err))
		}
	}
	cmd := h.command(ctx, req)
	cmd.Op = &pb.Command_AnswerEnrollment{AnswerEnrollment: req.Msg}
	out, err := h.apply(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.AnswerEnrollmentResponse{Enrollment: out.(*pb.Enrollment)}), nil
}
