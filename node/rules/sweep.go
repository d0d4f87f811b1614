package rules

import (
	"time"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/store"
	"google.golang.org/protobuf/proto"
)

// The 容缺 sweep: an application accepted with materials missing (容缺)
// whose materials are not in by their deadline is withdrawn, with a notice.

// LapseReason is the notice given when 容缺 materials were not supplied
// in time.
const LapseReason = "容缺材料逾期未补齐，视为申请人撤回申请（自动告知）"

// sweep withdraws, with a notice, every application this unit holds whose
// 容缺 materials are past their deadline and that is not decided.
func (s *Rules) sweep(w *store.Tx, cmd *pb.Command) (proto.Message, error) {
	now := time.UnixMilli(cmd.GetNowMs())
	var lapsed []*pb.Application
	err := w.Committed().Scan(recApp, false, func(_ string, rec *pb.StoredRecord) (bool, error) {
		a, err := decodeRecord(rec, &pb.Application{})
		if err != nil {
			return false, err
		}
		if a.GetHolder() != string(s.unit) || len(a.GetMaterialsMissing()) == 0 || decided(a) {
			return true, nil
		}
		if computeDeadline(a, s.cal, now).GetSupplementOverdue() {
			lapsed = append(lapsed, a)
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	res := &pb.ListApplicationsResponse{}
	for _, a := range lapsed {
		out, err := s.transition(w, cmd, a.GetId(), KindAppWithdrawn, &pb.AppWithdrawn{Reason: LapseReason})
		if err != nil {
			return nil, err
		}
		res.Applications = append(res.Applications, out.(*pb.Application))
	}
	res.Total = uint32(len(res.Applications))
	return res, nil
}
