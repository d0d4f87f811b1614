package rules

import (
	"regexp"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

var serialPattern = regexp.MustCompile(`^[0-9a-f]{1,40}$`)

// checkRevocation checks a revocation's fields (the CA's signature is the
// county node's to check, which holds the CA's certificate).
func checkRevocation(r *pb.Revocation) error {
	if !serialPattern.MatchString(r.GetSerial()) {
		return invalid("serial", "%q 不是证书序列号（十六进制，见 ca list）", r.GetSerial())
	}
	if _, err := tiers.Parse(r.GetUnit()); err != nil {
		return invalid("unit", "%v", err)
	}
	if err := checkText("reason", r.GetReason(), maxReasonRunes, true); err != nil {
		return err
	}
	if r.GetRevokedAtMs() <= 0 {
		return invalid("revoked_at_ms", "缺少吊销时间")
	}
	if len(r.GetCaSignature()) == 0 {
		return invalid("ca_signature", "缺少证书颁发机构的签名")
	}
	return nil
}

// revokeCertificate publishes a revocation to every node of the county.
// A revocation is final: a certificate is revoked once.
func (s *Rules) revokeCertificate(w *store.Tx, cmd *pb.Command, r *pb.Revocation) (proto.Message, error) {
	if s.unit.Tier() != tiers.County {
		return nil, precondition("unit", "证书只能由县级节点吊销，本节点是%s单位 %s", s.unit.Tier().Label(), s.unit)
	}
	if err := checkRevocation(r); err != nil {
		return nil, err
	}
	if !s.unit.Contains(tiers.Unit(r.GetUnit())) {
		return nil, invalid("unit", "%s 不属于本县 %s", r.GetUnit(), s.unit)
	}
	key := recRevoked + r.GetSerial()
	if prev, err := w.Record(key); err != nil {
		return nil, err
	} else if prev != nil {
		return nil, precondition("serial", "证书 %s 已于此前吊销", r.GetSerial())
	}
	if _, err := w.Emit(cmd, &pb.Event{Kind: KindCertRevoked, RecordKey: key, Payload: mustMarshal(r),
		Scope: &pb.Scope{Subtrees: []string{string(s.unit.County())}}}); err != nil {
		return nil, err
	}
	return r, nil
}

func applyRevocationEvent(prev *pb.StoredRecord, ev *pb.Event) (proto.Message, error) {
	if ev.GetKind() != KindCertRevoked {
		return nil, invalid("event.kind", "吊销记录不接受 %q", ev.GetKind())
	}
	if err := requireCounty(ev, "证书吊销"); err != nil {
		return nil, err
	}
	r := &pb.Revocation{}
	if err := decodePayload(ev, r); err != nil {
		return nil, err
	}
	if err := checkRevocation(r); err != nil {
		return nil, err
	}
	if ev.GetRecordKey() != recRevoked+r.GetSerial() {
		return nil, invalid("event.record_key", "证书 %s 的吊销不能写在 %s 下", r.GetSerial(), ev.GetRecordKey())
	}
	if prev != nil {
		return nil, precondition("serial", "证书 %s 已吊销", r.GetSerial())
	}
	return r, nil
}

// Revocations are the revocations this node holds, by serial.
func (s *Rules) Revocations() (map[string]*pb.Revocation, error) {
	out := map[string]*pb.Revocation{}
	err := s.st.View(func(r store.Reader) error {
		return r.Scan(recRevoked, false, func(key string, rec *pb.StoredRecord) (bool, error) {
			v, err := decodeRecord(rec, &pb.Revocation{})
			if err != nil {
				return false, err
			}
			out[strings.TrimPrefix(key, recRevoked)] = v
			return true, nil
		})
	})
	return out, err
}

// RevokedAt is when a revocation takes effect.
func RevokedAt(r *pb.Revocation) time.Time { return time.UnixMilli(r.GetRevokedAtMs()) }
