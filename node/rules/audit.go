package rules

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/store"
)

// auditKinds are the events of the audit trail: who came in, who saw a
// full identity number, who changed powers, the catalog and accounts.
var auditKinds = map[string]bool{
	KindSignIn: true, KindSignInFailed: true, KindAuditIdentityRevealed: true,
	KindAccountCreated: true, KindAccountChanged: true, KindAccountDisabled: true, KindAccountEnabled: true,
	KindAccountPasswordReset: true, KindAccountTOTPReset: true, KindPasswordChanged: true,
	KindDelegationGranted: true, KindDelegationRevoked: true, KindAppRerouted: true,
	KindCatalogPublished: true, KindClassPublished: true, KindOrderPlaced: true, KindNegativePublished: true,
	KindCertRevoked: true, KindEnrollRequested: true, KindEnrollAnswered: true, KindBackupTaken: true,
}

// maxAudit bounds one answer of the audit trail.
const maxAudit = 1000

// Audit is the audit trail this node holds, oldest first: of one
// operator (by login, as actor or as the account logging in) if login is
// given, from sinceMs on, at most limit entries (the most recent ones).
// It reads the whole feed.
func (s *Rules) Audit(login string, sinceMs int64, limit int) ([]*pb.AuditItem, error) {
	if limit <= 0 || limit > maxAudit {
		limit = maxAudit
	}
	var out []*pb.AuditItem
	keep := func(ev *pb.Event, _ string) bool {
		if !auditKinds[ev.GetKind()] || store.HLCTime(ev.GetHlc()).UnixMilli() < sinceMs {
			return false
		}
		return login == "" || ev.GetActorLogin() == login || ev.GetRecordKey() == recSignIn+login ||
			ev.GetRecordKey() == recAccount+login || ev.GetRecordKey() == recPassword+login
	}
	after := uint64(0)
	for {
		evs, last, err := s.st.ReadFeed(after, keep, 500, 4<<20)
		if err != nil {
			return nil, err
		}
		for _, ev := range evs {
			out = append(out, &pb.AuditItem{At: timestamppb.New(store.HLCTime(ev.GetHlc())), Kind: ev.GetKind(),
				Actor: store.DisplayActor(ev.GetActor(), ev.GetActorLogin(), ev.GetOrigin()), ActorLogin: ev.GetActorLogin(), Unit: ev.GetUnit(), Node: ev.GetOrigin(),
				Source: ev.GetSource(), RecordKey: ev.GetRecordKey(), Summary: summarizeAudit(ev)})
			if len(out) > limit {
				out = out[1:]
			}
		}
		if last == after {
			return out, nil
		}
		after = last
	}
}

func summarizeAudit(ev *pb.Event) string {
	switch ev.GetKind() {
	case KindSignIn:
		return "登录"
	case KindSignInFailed:
		p := &pb.SignIn{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		return "登录失败" + reasonSuffix(p.GetReason())
	case KindPasswordChanged:
		return "本人修改口令"
	case KindAccountCreated, KindAccountChanged, KindAccountDisabled, KindAccountEnabled,
		KindAccountPasswordReset, KindAccountTOTPReset:
		p := &pb.AccountChanged{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		a := p.GetRecord().GetAccount()
		what := map[string]string{KindAccountCreated: "设立账户", KindAccountChanged: "修改角色", KindAccountDisabled: "停用账户",
			KindAccountEnabled: "启用账户", KindAccountPasswordReset: "重置口令", KindAccountTOTPReset: "重置第二因子"}[ev.GetKind()]
		roles := make([]string, 0, len(a.GetRoles()))
		for _, r := range a.GetRoles() {
			roles = append(roles, RoleLabel(r))
		}
		return fmt.Sprintf("%s %s（%s，%s，%s）", what, a.GetLogin(), a.GetName(), a.GetUnit(), strings.Join(roles, "、"))
	case KindDelegationGranted, KindDelegationRevoked:
		p := &pb.Delegation{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		if ev.GetKind() == KindDelegationRevoked {
			return fmt.Sprintf("收回 %s 的 %s%s", p.GetUnit(), p.GetMatterCode(), reasonSuffix(p.GetRevokeReason()))
		}
		return fmt.Sprintf("授予 %s %s（%s）", p.GetUnit(), p.GetMatterCode(), p.GetMode())
	case KindEnrollRequested:
		p := &pb.Enrollment{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		return fmt.Sprintf("新节点 %s 申请入网（%s，经 %s）", p.GetUnit(), p.GetId(), p.GetReceivedBy())
	case KindEnrollAnswered:
		p := &pb.AnswerEnrollmentRequest{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		if p.GetRefused() != "" {
			return fmt.Sprintf("拒绝入网申请 %s（%s）", p.GetId(), p.GetRefused())
		}
		return fmt.Sprintf("签发入网申请 %s 的证书", p.GetId())
	case KindBackupTaken:
		p := &pb.BackupTaken{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		return fmt.Sprintf("在线备份本节点数据（节点 %s，事件流 %d）", p.GetNodeId(), p.GetFeedHead())
	case KindCertRevoked:
		p := &pb.Revocation{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		return fmt.Sprintf("吊销证书 %s（%s %s）%s", p.GetSerial(), p.GetUnit(), p.GetRole(), reasonSuffix(p.GetReason()))
	case KindCatalogPublished:
		p := &pb.CatalogPublished{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		return fmt.Sprintf("发布事项清单第 %d 版：新增 %d、变更 %d、撤销 %d", p.GetVersion(), len(p.GetAdded()), len(p.GetChanged()), len(p.GetRemoved()))
	}
	return summarize(ev, func(u string) string { return u })
}
