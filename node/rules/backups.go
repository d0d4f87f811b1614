package rules

import (
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/store"
)

// backupTaken records, before the data leaves the node, that an online
// backup of its store is being taken; the record travels to the county's
// audit trail.
func (s *Rules) backupTaken(w *store.Tx, cmd *pb.Command, b *pb.BackupTaken) (proto.Message, error) {
	if _, err := w.Emit(cmd, &pb.Event{Kind: KindBackupTaken, RecordKey: recBackups + string(s.unit), Payload: mustMarshal(b),
		Scope: appScope(s.unit, s.unit.County())}); err != nil {
		return nil, err
	}
	return b, nil
}

func applyBackupEvent(_ *pb.StoredRecord, ev *pb.Event) (proto.Message, error) {
	if ev.GetKind() != KindBackupTaken {
		return nil, invalid("event.kind", "备份记录不接受 %q", ev.GetKind())
	}
	if ev.GetRecordKey() != recBackups+ev.GetUnit() {
		return nil, invalid("event.record_key", "%s 的备份不能写在 %s 下", ev.GetUnit(), ev.GetRecordKey())
	}
	b := &pb.BackupTaken{}
	if err := decodePayload(ev, b); err != nil {
		return nil, err
	}
	return b, nil
}
