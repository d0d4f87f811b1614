package node

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
)

// chain builds events of one record as a unit would write them.
type chain struct {
	origin string
	seq    uint64
	clock  hlc
	rec    *pb.StoredRecord
}

func (c *chain) event(unit, kind, key string, payload proto.Message) *pb.Event {
	c.seq++
	ev := &pb.Event{Origin: c.origin, Seq: c.seq, Kind: kind, RecordKey: key, Payload: store.MustMarshal(payload),
		Hlc: c.clock.next(at("2026-11-23", 10).UnixMilli()), Actor: "测试", Unit: unit}
	if c.rec != nil {
		ev.PrevHash = c.rec.GetHead()
	}
	ev.Hash = store.EventHash(ev)
	return ev
}

// apply materializes and, on success, advances the chain.
func (c *chain) apply(ev *pb.Event) (*pb.Application, error) {
	rec, err := materialize(c.rec, ev)
	if err != nil {
		return nil, err
	}
	c.rec = rec
	return appFromRecord(rec)
}

const (
	county   = "330324"
	township = "330324101"
	village  = "330324101201"
)

func acceptedAt(unit, processing string) *pb.AppAccepted {
	id := unit + "-20261123-000001"
	return &pb.AppAccepted{Application: &pb.Application{
		Id: id, MatterCode: "MZ-005", MatterName: "老年人优待证办理", Applicant: &pb.Applicant{Name: "王秀英", IdNumber: idWang},
		AcceptingUnit: unit, ProcessingUnit: processing, Holder: unit, State: rules.StateAccepted,
		MaterialsReceived: []string{"居民身份证"}, StatutoryDays: 10,
	}}
}

// TestMaterializeFollowsTheStateMachine feeds events straight into the
// materializer, as a receiver of replicated events would.
func TestMaterializeFollowsTheStateMachine(t *testing.T) {
	c := &chain{origin: "n1"}
	key := appKey(village + "-20261123-000001")
	a, err := c.apply(c.event(village, rules.KindAppAccepted, key, acceptedAt(village, county)))
	require.NoError(t, err)
	require.Equal(t, village, a.GetHolder())

	// The village holds it but may not decide: the county processes it.
	_, err = c.apply(c.event(village, rules.KindAppDecided, key, &pb.AppDecided{Approved: true}))
	require.ErrorIs(t, err, store.ErrFailedPrecondition)
	require.ErrorContains(t, err, "processing_unit:")
	c.seq-- // the refused event is not part of the chain

	// The county does not hold it yet (it was never forwarded).
	_, err = c.apply(c.event(county, rules.KindAppDecided, key, &pb.AppDecided{Approved: true}))
	require.ErrorIs(t, err, store.ErrFailedPrecondition)
	require.ErrorContains(t, err, "holder:")
	c.seq--

	// The holder can withdraw it; then nothing else goes.
	a, err = c.apply(c.event(village, rules.KindAppWithdrawn, key, &pb.AppWithdrawn{Reason: "不办了"}))
	require.NoError(t, err)
	require.Equal(t, rules.StateWithdrawn, a.GetState())
	for _, kind := range []string{rules.KindAppDecided, rules.KindAppDelivered, rules.KindAppRated, rules.KindAppWithdrawn, rules.KindAppSupplementRequest} {
		_, err = c.apply(c.event(village, kind, key, &pb.AppWithdrawn{Reason: "x"}))
		require.ErrorIs(t, err, store.ErrFailedPrecondition, kind)
		c.seq--
	}
}

func TestMaterializeRefusesForgedEvents(t *testing.T) {
	key := appKey(county + "-20261123-000001")
	fresh := func() (*chain, *pb.Event) {
		c := &chain{origin: "n1"}
		_, err := c.apply(c.event(county, rules.KindAppAccepted, key, acceptedAt(county, county)))
		require.NoError(t, err)
		return c, c.event(county, rules.KindAppDecided, key, &pb.AppDecided{Approved: true, Reason: "符合"})
	}
	tests := []struct {
		name   string
		forge  func(ev *pb.Event)
		rehash bool
		is     error
		field  string
	}{
		{"payload changed after hashing", func(ev *pb.Event) { ev.Payload = store.MustMarshal(&pb.AppDecided{Approved: false, Reason: "x"}) }, false, store.ErrInvalidArgument, "event.hash"},
		{"unit changed after hashing", func(ev *pb.Event) { ev.Unit = township }, false, store.ErrInvalidArgument, "event.hash"},
		{"wrong predecessor", func(ev *pb.Event) { ev.PrevHash = make([]byte, 32) }, true, store.ErrFailedPrecondition, "event.prev_hash"},
		{"no predecessor", func(ev *pb.Event) { ev.PrevHash = nil }, true, store.ErrFailedPrecondition, "event.prev_hash"},
		{"unentitled unit", func(ev *pb.Event) { ev.Unit = township }, true, store.ErrFailedPrecondition, "holder"},
		{"malformed unit", func(ev *pb.Event) { ev.Unit = "33032" }, true, store.ErrInvalidArgument, "event.unit"},
		{"truncated payload", func(ev *pb.Event) { ev.Payload = ev.Payload[:len(ev.Payload)-2] }, true, store.ErrInvalidArgument, "event.payload"},
		{"unknown kind", func(ev *pb.Event) { ev.Kind = "app.teleported" }, true, store.ErrInvalidArgument, "event.kind"},
		{"zero seq", func(ev *pb.Event) { ev.Seq = 0 }, true, store.ErrInvalidArgument, "event.seq"},
		{"unknown record", func(ev *pb.Event) { ev.RecordKey = "ghost/1" }, true, store.ErrInvalidArgument, "event.record_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ev := fresh()
			tt.forge(ev)
			if tt.rehash {
				ev.Hash = store.EventHash(ev)
			}
			_, err := materialize(c.rec, ev)
			require.ErrorIs(t, err, tt.is)
			require.ErrorContains(t, err, tt.field)
		})
	}
	// A replayed acceptance of an existing record is refused.
	c, _ := fresh()
	_, err := c.apply(c.event(county, rules.KindAppAccepted, key, acceptedAt(county, county)))
	require.ErrorIs(t, err, store.ErrFailedPrecondition)
	// A catalog written below the county is refused.
	_, err = materialize(nil, (&chain{origin: "v"}).event(village, rules.KindCatalogPublished, recCatalog, &pb.CatalogPublished{Version: 1}))
	require.ErrorIs(t, err, store.ErrFailedPrecondition)
}

// FuzzMaterialize: any bytes as an event, applied to any state of a
// record, never panic, and a refused event leaves the record as it was;
// an accepted one yields a record that decodes and a chain that links.
func FuzzMaterialize(f *testing.F) {
	c := &chain{origin: "n1"}
	key := appKey(county + "-20261123-000001")
	acc := c.event(county, rules.KindAppAccepted, key, acceptedAt(county, county))
	b, _ := proto.Marshal(acc)
	f.Add(b, uint8(0))
	_, _ = c.apply(acc)
	dec := c.event(county, rules.KindAppDecided, key, &pb.AppDecided{Approved: true})
	b, _ = proto.Marshal(dec)
	f.Add(b, uint8(1))
	f.Add([]byte{0x0a, 0x02, 'n', '1', 0x10, 0x01}, uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, rehash uint8) {
		ev := &pb.Event{}
		if proto.Unmarshal(data, ev) != nil {
			return
		}
		if rehash%2 == 1 {
			ev.Hash = store.EventHash(ev) // get past the hash check into the state machine
		}
		for _, prev := range []*pb.StoredRecord{nil, c.rec} {
			before := proto.Clone(prevOrEmpty(prev))
			rec, err := materialize(prev, ev)
			require.True(t, proto.Equal(before, prevOrEmpty(prev)), "materialize changed its input")
			if err != nil {
				continue
			}
			require.Equal(t, ev.GetHash(), rec.GetHead())
			if prev != nil {
				require.Equal(t, prev.GetVersion()+1, rec.GetVersion())
			}
		}
	})
}

func prevOrEmpty(r *pb.StoredRecord) *pb.StoredRecord {
	if r == nil {
		return &pb.StoredRecord{}
	}
	return r
}

// FuzzCommands drives the store's dispatcher with random commands built
// from the fuzzer's bytes: whatever it is given, a refused command writes
// nothing and the store stays consistent with its events.
func FuzzCommands(f *testing.F) {
	st, err := openSolo(soloConfig{Dir: f.TempDir(), Unit: county, Calendar: seedCalendar(f), NoSync: true})
	require.NoError(f, err)
	f.Cleanup(func() { st.Close() })
	ctx := context.Background()
	_, err = st.Apply(ctx, &pb.Command{NowMs: at("2026-11-23", 9).UnixMilli(), Op: &pb.Command_ImportCatalog{ImportCatalog: seedCatalog(f)}})
	require.NoError(f, err)
	f.Add(uint64(1), uint8(0), uint8(0))
	f.Add(uint64(2), uint8(3), uint8(7))
	f.Add(uint64(99), uint8(9), uint8(255))
	f.Fuzz(func(t *testing.T, seed uint64, steps uint8, flavor uint8) {
		rng := rand.New(rand.NewPCG(seed, uint64(flavor)))
		var ids []string
		now := at("2026-11-23", 10)
		for i := 0; i < int(steps%32)+1; i++ {
			now = now.Add(time.Duration(rng.IntN(48)) * time.Hour)
			cmd := randomCommand(rng, ids, now)
			head := st.FeedHead()
			out, err := st.Apply(ctx, cmd)
			if err != nil {
				require.Equal(t, head, st.FeedHead(), "refused command wrote events: %v", err)
				continue
			}
			if a, ok := out.(*pb.Application); ok && cmd.GetAccept() != nil {
				ids = append(ids, a.GetId())
			}
		}
		_, err := st.Verify()
		require.NoError(t, err)
	})
}

var fuzzMaterials = []string{"居民身份证", "近期一寸免冠证件照", "营业执照", "食品安全管理制度文本", "", "介绍信"}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func randomMaterials(rng *rand.Rand) []string {
	var out []string
	for i := rng.IntN(4); i > 0; i-- {
		out = append(out, pick(rng, fuzzMaterials))
	}
	return out
}

func randomCommand(rng *rand.Rand, ids []string, now time.Time) *pb.Command {
	id := "330324-20261123-000001"
	if len(ids) > 0 && rng.IntN(8) != 0 {
		id = pick(rng, ids)
	}
	cmd := &pb.Command{NowMs: now.UnixMilli(), Actor: "模糊测试"}
	switch rng.IntN(16) {
	case 0, 1:
		idn := idWang
		if rng.IntN(5) == 0 {
			idn = idWang[:17] + "0"
		}
		cmd.Op = &pb.Command_Accept{Accept: &pb.AcceptApplicationRequest{MatterCode: pick(rng, []string{"MZ-005", "SJ-001", "YJS-002", "GA-999", ""}),
			Applicant: &pb.Applicant{Name: pick(rng, []string{"王秀英", "", "李"}), IdNumber: idn},
			Materials: pick(rng, [][]string{{"居民身份证", "近期一寸免冠证件照"}, {"出生一件事联办申请表", "父母双方居民身份证", "居民户口簿"}, randomMaterials(rng)}), Missing: randomMaterials(rng)}}
	case 2:
		cmd.Op = &pb.Command_RequestSupplement{RequestSupplement: &pb.RequestSupplementRequest{Id: id, Materials: randomMaterials(rng), Reason: pick(rng, []string{"", "照片不合格"})}}
	case 3:
		cmd.Op = &pb.Command_Supply{Supply: &pb.SupplyMaterialsRequest{Id: id, Materials: randomMaterials(rng)}}
	case 4:
		cmd.Op = &pb.Command_Decide{Decide: &pb.DecideApplicationRequest{Id: id, Approve: rng.IntN(2) == 0, Reason: pick(rng, []string{"", "不符合"})}}
	case 5:
		cmd.Op = &pb.Command_Deliver{Deliver: &pb.DeliverApplicationRequest{Id: id, Method: pick(rng, []string{"window", "post", "x"}), Tracking: pick(rng, []string{"", "SF1403928475621", "短"})}}
	case 6:
		cmd.Op = &pb.Command_Rate{Rate: &pb.RateApplicationRequest{Id: id, Score: uint32(rng.IntN(7)), Comment: pick(rng, []string{"", "好"})}}
	case 7:
		cmd.Op = &pb.Command_Withdraw{Withdraw: &pb.WithdrawApplicationRequest{Id: id, Reason: pick(rng, []string{"", "不办了"})}}
	case 8:
		cmd.Op = &pb.Command_Reveal{Reveal: &pb.RevealAudit{ApplicationId: id, Reason: pick(rng, []string{"", "核对"})}}
	case 9:
		cmd.Op = &pb.Command_Grant{Grant: &pb.GrantDelegationRequest{MatterCode: pick(rng, []string{"MZ-005", "GA-001", "XX-1"}),
			Unit: pick(rng, []string{"330324101", "330324101201", "330324", "3"}), Mode: pick(rng, []string{"devolve", "entrust", "proxy", ""}),
			From: pick(rng, []string{"", "2026-11-23", "2030-01-01", "bad"})}}
	case 10:
		cmd.Op = &pb.Command_Revoke{Revoke: &pb.RevokeDelegationRequest{Id: pick(rng, []string{"D-000001", "D-000002", ""}), Reason: pick(rng, []string{"", "调整"})}}
	case 11:
		cmd.Op = &pb.Command_Forward{Forward: &pb.ForwardApplicationRequest{Id: id, ToUnit: pick(rng, []string{"330324", "330324101", "x"}), Reason: pick(rng, []string{"", "改派"})}}
	case 12:
		cmd.Op = &pb.Command_Decide{Decide: &pb.DecideApplicationRequest{Id: id, Part: pick(rng, []string{"WJ-003", "GA-001", "ZZ"}), Approve: rng.IntN(2) == 0, Reason: "意见"}}
	case 13:
		cmd.Op = &pb.Command_FollowUp{FollowUp: &pb.UpdateFollowUpRequest{ApplicationId: id, Step: pick(rng, []string{"called_back", "fixed", "x"}), Note: pick(rng, []string{"", "已回访"})}}
	case 14:
		cmd.Op = &pb.Command_Sweep{Sweep: &pb.Sweep{}}
	case 15:
		cmd.Op = &pb.Command_SetNegative{SetNegative: &pb.SetNegativeListRequest{Entries: []*pb.NegativeEntry{
			{MatterCode: pick(rng, []string{"MZ-005", "SJ-001", "X"}), Tier: pick(rng, []string{"village", "township", "county"})}}}}
	}
	return cmd
}
