package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

// Enrollment limits.
const (
	maxEnrollHosts    = 8
	maxHostLen        = 253
	maxCertificateDER = 4 << 10
)

// EnrollmentID is the id of a box's enrollment: the first 24 hex digits
// of the SHA-256 of its public key.
func EnrollmentID(pub []byte) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:12])
}

func checkEnrollment(e *pb.Enrollment) error {
	if _, err := tiers.Parse(e.GetUnit()); err != nil {
		return invalid("unit", "%v", err)
	}
	if len(e.GetPublicKey()) != 32 {
		return invalid("public_key", "应为 32 字节的 ed25519 公钥，实为 %d 字节", len(e.GetPublicKey()))
	}
	if e.GetId() != EnrollmentID(e.GetPublicKey()) {
		return invalid("id", "与公钥不符")
	}
	if len(e.GetHosts()) > maxEnrollHosts {
		return invalid("hosts", "最多 %d 个主机名或地址", maxEnrollHosts)
	}
	for _, h := range e.GetHosts() {
		if h == "" || len(h) > maxHostLen || strings.ContainsAny(h, " \t\r\n/") {
			return invalid("hosts", "%.40q 不是主机名或地址", h)
		}
	}
	switch {
	case e.GetRenewal() && (len(e.GetProof()) != 0 || e.GetUnit() != e.GetReceivedBy()):
		return invalid("renewal", "续期只能由节点为自己申请，不带令牌")
	case !e.GetRenewal() && len(e.GetProof()) != sha256.Size:
		return invalid("proof", "应为 32 字节")
	case e.GetRole() != "" && e.GetRole() != "node" && !(e.GetRole() == "member" && e.GetRenewal() && tiers.Unit(e.GetUnit()).Tier() == tiers.County):
		return invalid("role", "%.20q 不能申请", e.GetRole())
	}
	return nil
}

// enroll records a box's request at the node it asked, for the county.
func (s *Rules) enroll(w *store.Tx, cmd *pb.Command, e *pb.Enrollment) (proto.Message, error) {
	e = proto.Clone(e).(*pb.Enrollment)
	e.Id, e.ReceivedBy, e.RequestedAtMs = EnrollmentID(e.GetPublicKey()), string(s.unit), cmd.GetNowMs()
	e.Certificate, e.Refused = nil, ""
	if err := checkEnrollment(e); err != nil {
		return nil, err
	}
	if u := tiers.Unit(e.GetUnit()); u != s.unit && u.Parent() != s.unit {
		return nil, invalid("unit", "新节点 %s 应向本单位或其上级申请，本节点是 %s", u, s.unit)
	}
	key := recEnroll + e.GetId()
	if prev, err := w.Record(key); err != nil {
		return nil, err
	} else if prev != nil {
		old, err := decodeRecord(prev, &pb.Enrollment{})
		if err != nil {
			return nil, err
		}
		// Asked again (the box restarted): the same request stands.
		return s.withAnswer(w, old)
	}
	if _, err := w.Emit(cmd, &pb.Event{Kind: KindEnrollRequested, RecordKey: key, Payload: mustMarshal(e),
		Scope: appScope(s.unit, s.unit.County())}); err != nil {
		return nil, err
	}
	return e, nil
}

// answerEnrollment publishes the CA's answer, at the county, to the node
// that was asked.
func (s *Rules) answerEnrollment(w *store.Tx, cmd *pb.Command, a *pb.AnswerEnrollmentRequest) (proto.Message, error) {
	if s.unit.Tier() != tiers.County {
		return nil, precondition("unit", "只有县级节点发布证书颁发机构的答复")
	}
	if (len(a.GetCertificate()) == 0) == (a.GetRefused() == "") {
		return nil, invalid("certificate", "应给出证书或拒绝的理由（二者之一）")
	}
	if len(a.GetCertificate()) > maxCertificateDER {
		return nil, invalid("certificate", "证书过大")
	}
	if err := checkText("refused", a.GetRefused(), maxReasonRunes, false); err != nil {
		return nil, err
	}
	rec, err := w.Record(recEnroll + a.GetId())
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, notFound("id", "没有申请 %q", a.GetId())
	}
	e, err := decodeRecord(rec, &pb.Enrollment{})
	if err != nil {
		return nil, err
	}
	if done, err := w.Record(recEnrolled + a.GetId()); err != nil {
		return nil, err
	} else if done != nil {
		return nil, precondition("id", "申请 %s 已有答复", a.GetId())
	}
	if _, err := w.Emit(cmd, &pb.Event{Kind: KindEnrollAnswered, RecordKey: recEnrolled + a.GetId(), Payload: mustMarshal(a),
		Scope: appScope(tiers.Unit(e.GetReceivedBy()), s.unit)}); err != nil {
		return nil, err
	}
	e.Certificate, e.Refused = a.GetCertificate(), a.GetRefused()
	return e, nil
}

func applyEnrollEvent(prev *pb.StoredRecord, ev *pb.Event) (proto.Message, error) {
	if ev.GetKind() != KindEnrollRequested {
		return nil, invalid("event.kind", "入网申请记录不接受 %q", ev.GetKind())
	}
	e := &pb.Enrollment{}
	if err := decodePayload(ev, e); err != nil {
		return nil, err
	}
	if err := checkEnrollment(e); err != nil {
		return nil, err
	}
	switch {
	case ev.GetRecordKey() != recEnroll+e.GetId():
		return nil, invalid("event.record_key", "申请 %s 不能写在 %s 下", e.GetId(), ev.GetRecordKey())
	case e.GetReceivedBy() != ev.GetUnit():
		return nil, invalid("received_by", "申请由 %s 收到，事件却来自 %s", e.GetReceivedBy(), ev.GetUnit())
	case prev != nil:
		return nil, precondition("id", "申请 %s 已存在", e.GetId())
	}
	return e, nil
}

func applyEnrolledEvent(prev *pb.StoredRecord, ev *pb.Event) (proto.Message, error) {
	if ev.GetKind() != KindEnrollAnswered {
		return nil, invalid("event.kind", "入网答复记录不接受 %q", ev.GetKind())
	}
	if err := requireCounty(ev, "入网答复"); err != nil {
		return nil, err
	}
	a := &pb.AnswerEnrollmentRequest{}
	if err := decodePayload(ev, a); err != nil {
		return nil, err
	}
	if ev.GetRecordKey() != recEnrolled+a.GetId() {
		return nil, invalid("event.record_key", "答复 %s 不能写在 %s 下", a.GetId(), ev.GetRecordKey())
	}
	if prev != nil {
		return nil, precondition("id", "申请 %s 已有答复", a.GetId())
	}
	return a, nil
}

// withAnswer is an enrollment with the CA's answer, if one has arrived.
func (s *Rules) withAnswer(r interface {
	Record(string) (*pb.StoredRecord, error)
}, e *pb.Enrollment) (*pb.Enrollment, error) {
	rec, err := r.Record(recEnrolled + e.GetId())
	if err != nil || rec == nil {
		return e, err
	}
	a, err := decodeRecord(rec, &pb.AnswerEnrollmentRequest{})
	if err != nil {
		return nil, err
	}
	e.Certificate, e.Refused = a.GetCertificate(), a.GetRefused()
	return e, nil
}

// Enrollment is a box's enrollment as this node holds it.
func (s *Rules) Enrollment(id string) (*pb.Enrollment, error) {
	var out *pb.Enrollment
	err := s.st.View(func(r store.Reader) error {
		rec, err := r.Record(recEnroll + id)
		if err != nil {
			return err
		}
		if rec == nil {
			return notFound("id", "没有入网申请 %.40q", id)
		}
		e, err := decodeRecord(rec, &pb.Enrollment{})
		if err != nil {
			return err
		}
		out, err = s.withAnswer(r, e)
		return err
	})
	return out, err
}

// Enrollments are the enrollments this node holds (those without an
// answer, if pendingOnly), oldest first.
func (s *Rules) Enrollments(pendingOnly bool) ([]*pb.Enrollment, error) {
	var out []*pb.Enrollment
	err := s.st.View(func(r store.Reader) error {
		return r.Scan(recEnroll, false, func(_ string, rec *pb.StoredRecord) (bool, error) {
			e, err := decodeRecord(rec, &pb.Enrollment{})
			if err != nil {
				return false, err
			}
			if e, err = s.withAnswer(r, e); err != nil {
				return false, err
			}
			if !pendingOnly || (len(e.GetCertificate()) == 0 && e.GetRefused() == "") {
				out = append(out, e)
			}
			return true, nil
		})
	})
	return out, err
}
