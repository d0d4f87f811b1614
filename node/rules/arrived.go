package rules

import (
	"strconv"
	"strings"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/store"
)

// afterIngest takes the moves that fall to this node when an event
// arrives: an application forwarded to this unit is received.
func (s *Rules) afterIngest(w *store.Tx, cmd *pb.Command, ev *pb.Event, rec *pb.StoredRecord) error {
	if ev.GetKind() == KindRequestMade {
		r, err := decodeRecord(rec, &pb.Request{})
		if err != nil {
			return err
		}
		return s.answerRequest(w, cmd, r)
	}
	if ev.GetKind() == KindTaskDecided {
		// A part decided elsewhere: join if this unit coordinates.
		t, err := decodeRecord(rec, &pb.Task{})
		if err != nil {
			return err
		}
		return s.maybeJoin(w, cmd, t.GetApplicationId())
	}
	if suppliesMaterials(ev.GetKind()) {
		// Handed in at a window: join if this unit coordinates and the
		// parts were all decided meanwhile.
		a, err := decodeRecord(rec, &pb.Application{})
		if err != nil || len(a.GetParts()) == 0 {
			return err
		}
		return s.maybeJoin(w, cmd, a.GetId())
	}
	if ev.GetKind() != KindAppForwarded && ev.GetKind() != KindAppRerouted {
		return nil
	}
	a, err := decodeRecord(rec, &pb.Application{})
	if err != nil {
		return err
	}
	if a.GetProcessingUnit() != string(s.unit) || a.GetState() != StateForwarded {
		return nil
	}
	_, err = w.Emit(cmd, &pb.Event{Kind: KindAppReceived, RecordKey: ev.GetRecordKey(), Actor: store.SystemActor,
		Payload: mustMarshal(&pb.AppRouted{ToUnit: string(s.unit)}), Scope: ev.GetScope()})
	if err != nil {
		return err
	}
	return s.maybeJoin(w, cmd, a.GetId())
}

// bumpAppCounter keeps this unit's id counter ahead of every application
// id of this unit it has seen: after a restore, ids it handed out before
// come back from the parent and must not be handed out again.
func (s *Rules) bumpAppCounter(w *store.Tx, ev *pb.Event) error {
	if ev.GetKind() != KindAppAccepted {
		return nil
	}
	id := strings.TrimPrefix(ev.GetRecordKey(), recApp)
	parts := strings.Split(id, "-")
	if len(parts) != 3 || parts[0] != string(s.unit) {
		return nil
	}
	n, err := strconv.ParseUint(parts[2], 10, 64)
	if err != nil {
		return nil
	}
	return w.RaiseCounter("app/"+parts[0]+"/"+parts[1], n)
}
