package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/node/rpc"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/sync"
)

const fakeTown = "330324103" // a township with no real node: the test speaks for it

// fakeChild builds events as the fake township's node would.
func fakeChild(origin string) (*pb.Peer, *chain) {
	return &pb.Peer{Unit: fakeTown, NodeId: origin, Epoch: 7}, &chain{origin: origin}
}

func push(t *testing.T, c jiujinv1connect.SyncServiceClient, from *pb.Peer, last uint64, evs ...*pb.Event) (*pb.PushResponse, error) {
	t.Helper()
	res, err := c.Push(context.Background(), connect.NewRequest(&pb.PushRequest{Child: from, Events: evs, LastPosition: last}))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

func syncClient(n *testNode) jiujinv1connect.SyncServiceClient {
	return jiujinv1connect.NewSyncServiceClient(n.hc, n.URL())
}

func TestForgedAndMalformedBatches(t *testing.T) {
	county := startTestNode(t, "330324", "", nil)
	county.importSeed(t)
	sc := syncClient(county)
	peer, ch := fakeChild("f00d")
	key := appKey(fakeTown + "-20261123-000001")
	acc := ch.event(fakeTown, rules.KindAppAccepted, key, acceptedAt(fakeTown, "330324"))
	_, err := ch.apply(acc)
	require.NoError(t, err)
	fwd := ch.event(fakeTown, rules.KindAppForwarded, key, &pb.AppRouted{ToUnit: "330324"})
	_, err = ch.apply(fwd)
	require.NoError(t, err)

	t.Run("only a direct child may push", func(t *testing.T) {
		village := &pb.Peer{Unit: fakeTown + "201", NodeId: "beef", Epoch: 1}
		_, err := push(t, sc, village, 1, acc)
		requireCode(t, err, connect.CodeFailedPrecondition, "peer.unit")
	})

	t.Run("a good batch applies, and the county receives", func(t *testing.T) {
		res, err := push(t, sc, peer, 2, acc, fwd)
		require.NoError(t, err)
		require.Equal(t, uint32(2), res.GetApplied())
		a := appOn(county, fakeTown+"-20261123-000001")
		require.Equal(t, rules.StateReceived, a.GetState())
	})

	t.Run("replayed batch: duplicates, nothing else", func(t *testing.T) {
		res, err := push(t, sc, peer, 2, acc, fwd)
		require.NoError(t, err)
		require.Equal(t, uint32(2), res.GetDuplicates())
		require.Zero(t, res.GetApplied()+res.GetQuarantined())
	})

	quarantined := func() uint64 { q, _ := county.Store.SyncCounts(); return q }
	before := quarantined()
	headBefore := county.Store.FeedHead()

	// Every forged event is quarantined, and the good event behind it in the
	// same batch still applies.
	good2 := func() (*pb.Event, *chain) {
		c2 := &chain{origin: "f00d", seq: 100}
		k := appKey(fakeTown + "-20261123-000002")
		a := acceptedAt(fakeTown, "330324")
		a.Application.Id = fakeTown + "-20261123-000002"
		return c2.event(fakeTown, rules.KindAppAccepted, k, a), c2
	}
	tests := []struct {
		name   string
		forged func() *pb.Event
		reason string
	}{
		{"bad hash", func() *pb.Event {
			ev := proto.Clone(fwd).(*pb.Event)
			ev.Seq, ev.Actor = 50, "篡改"
			return ev
		}, "event.hash"},
		{"unit outside the child's subtree", func() *pb.Event {
			c := &chain{origin: "f00d", seq: 60}
			return c.event("330324101", rules.KindAppAccepted, appKey("330324101-20261123-000009"), acceptedAt("330324101", "330324"))
		}, "辖区外"},
		{"decision by an unentitled unit", func() *pb.Event {
			// Chained right onto the county's head (a child may well
			// know it), but the county holds the application.
			c := &chain{origin: "f00d", seq: 90}
			require.NoError(t, county.Store.View(func(r store.Reader) error {
				var err error
				c.rec, err = r.Record(key)
				return err
			}))
			return c.event(fakeTown, rules.KindAppDecided, key, &pb.AppDecided{Approved: true})
		}, "holder"},
		{"same id, different content", func() *pb.Event {
			ev := proto.Clone(acc).(*pb.Event)
			ev.Actor = "另一个人"
			ev.Hash = store.EventHash(ev)
			return ev
		}, "event.id"},
		{"fork of a chain", func() *pb.Event {
			c := &chain{origin: "f00d", seq: 70, rec: nil}
			rec, err := materialize(nil, acc)
			require.NoError(t, err)
			c.rec = rec
			return c.event(fakeTown, rules.KindAppWithdrawn, key, &pb.AppWithdrawn{Reason: "x"})
		}, "prev_hash"},
		{"origin writing as another unit", func() *pb.Event {
			c := &chain{origin: "f00d", seq: 80}
			u := fakeTown + "201"
			return c.event(u, rules.KindAppAccepted, appKey(u+"-20261123-000001"), acceptedAt(u, "330324"))
		}, "属于单位"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, _ := good2()
			g = proto.Clone(g).(*pb.Event)
			g.Seq = uint64(200 + i)
			g.RecordKey = appKey(fakeTown + "-20261124-00000" + string(rune('1'+i)))
			p := &pb.AppAccepted{}
			require.NoError(t, proto.Unmarshal(g.GetPayload(), p))
			p.Application.Id = strings.TrimPrefix(g.RecordKey, recApp)
			g.Payload = store.MustMarshal(p)
			g.Hash = store.EventHash(g)
			res, err := push(t, sc, peer, uint64(10+i), tt.forged(), g)
			require.NoError(t, err)
			require.Equal(t, uint32(1), res.GetQuarantined(), "forged event quarantined")
			require.Equal(t, uint32(1), res.GetApplied(), "the good event behind it applied")
			list, err := county.Store.Quarantine(1)
			require.NoError(t, err)
			require.Contains(t, list[0].GetReason(), tt.reason)
			require.Equal(t, fakeTown, list[0].GetFromUnit())
		})
	}
	require.Equal(t, before+uint64(len(tests)), quarantined())
	require.Equal(t, headBefore+uint64(len(tests)), county.Store.FeedHead(), "only the good event of each case")

	st, err := county.status.GetStatus(context.Background(), req(&pb.GetStatusRequest{}))
	require.NoError(t, err)
	require.Equal(t, uint64(len(tests)), st.Msg.GetQuarantined())
	resp, err := county.hc.Get(county.URL() + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(body), fmt.Sprintf("jiujin_quarantined_events_total %d", len(tests)))
	require.NotEmpty(t, st.Msg.GetRecentQuarantine()[0].GetReason())

	t.Run("out of order: held back, then applied", func(t *testing.T) {
		c := &chain{origin: "cafe"}
		p2 := &pb.Peer{Unit: fakeTown, NodeId: "cafe", Epoch: 1}
		k := appKey(fakeTown + "-20261125-000001")
		a := acceptedAt(fakeTown, "330324")
		a.Application.Id = fakeTown + "-20261125-000001"
		e1 := c.event(fakeTown, rules.KindAppAccepted, k, a)
		_, err := c.apply(e1)
		require.NoError(t, err)
		e2 := c.event(fakeTown, rules.KindAppForwarded, k, &pb.AppRouted{ToUnit: "330324"})
		res, err := push(t, sc, p2, 2, e2)
		require.NoError(t, err)
		require.Equal(t, uint32(1), res.GetHeld())
		_, held := county.Store.SyncCounts()
		require.Equal(t, uint64(1), held)
		res, err = push(t, sc, p2, 1, e1)
		require.NoError(t, err)
		require.Equal(t, uint32(2), res.GetApplied())
		_, held = county.Store.SyncCounts()
		require.Zero(t, held)
		require.Equal(t, rules.StateReceived, appOn(county, a.GetApplication().GetId()).GetState())
	})

	t.Run("truncated and oversized batches are refused whole", func(t *testing.T) {
		head := county.Store.FeedHead()
		body, err := proto.Marshal(&pb.PushRequest{Child: peer, Events: []*pb.Event{acc, fwd}, LastPosition: 2})
		require.NoError(t, err)
		resp, err := county.hc.Post(county.URL()+jiujinv1connect.SyncServicePushProcedure, "application/proto", bytes.NewReader(body[:len(body)-7]))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		many := make([]*pb.Event, sync.MaxBatchEvents+1)
		for i := range many {
			many[i] = acc
		}
		_, err = push(t, sc, peer, 3, many...)
		requireCode(t, err, connect.CodeInvalidArgument, "events")
		require.Equal(t, head, county.Store.FeedHead())
	})
	_, err = county.Store.Verify()
	require.NoError(t, err)
}

// FuzzIngestBatch feeds arbitrary bytes, decoded as a push batch, to a
// store: it never panics, never writes half a batch, and stays consistent.
func FuzzIngestBatch(f *testing.F) {
	st, err := openSolo(soloConfig{Dir: f.TempDir(), Unit: county, Calendar: seedCalendar(f), NoSync: true})
	require.NoError(f, err)
	f.Cleanup(func() { st.Close() })
	peer, ch := fakeChild("f00d")
	key := appKey(fakeTown + "-20261123-000001")
	acc := ch.event(fakeTown, rules.KindAppAccepted, key, acceptedAt(fakeTown, "330324"))
	_, _ = ch.apply(acc)
	fwd := ch.event(fakeTown, rules.KindAppForwarded, key, &pb.AppRouted{ToUnit: "330324"})
	b, _ := proto.Marshal(&pb.PushRequest{Child: peer, Events: []*pb.Event{acc, fwd}, LastPosition: 2})
	f.Add(b)
	b, _ = proto.Marshal(&pb.PushRequest{Child: peer, Events: []*pb.Event{fwd}, LastPosition: 1})
	f.Add(b)
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		m := &pb.PushRequest{}
		if proto.Unmarshal(data, m) != nil {
			return
		}
		head := st.FeedHead()
		res, err := st.Ingest(context.Background(), m.GetChild(), true, m.GetEvents(), m.GetLastPosition(), 0)
		if err != nil {
			require.Equal(t, head, st.FeedHead(), "a refused batch wrote events")
			return
		}
		require.LessOrEqual(t, int(res.GetApplied()+res.GetDuplicates()+res.GetHeld()+res.GetQuarantined()), len(m.GetEvents())*2)
		_, err = st.Verify()
		require.NoError(t, err)
	})
}

// TestOversizedIngestIsRefusedWhole: a batch larger than one transaction
// holds is refused before anything is written, with a code that makes the
// sender send less; smaller pieces of it go through.
func TestOversizedIngestIsRefusedWhole(t *testing.T) {
	st := countyStore(t)
	peer, _ := fakeChild("f00d")
	var evs []*pb.Event
	c := &chain{origin: "f00d"}
	for i := 1; i <= 6000; i++ {
		id := fmt.Sprintf("%s-20261123-%06d", fakeTown, i)
		a := acceptedAt(fakeTown, "330324")
		a.Application.Id = id
		a.Application.Note = strings.Repeat("备注", 100)
		evs = append(evs, c.event(fakeTown, rules.KindAppAccepted, appKey(id), a))
	}
	_, err := st.Ingest(context.Background(), peer, true, evs, 6000, 0)
	require.ErrorIs(t, err, store.ErrBatchTooLarge)
	require.Equal(t, connect.CodeResourceExhausted, connect.CodeOf(rpc.ConnectError(err)))
	require.Zero(t, st.FeedHead(), "nothing written")
	for i := 0; i < len(evs); i += 500 {
		res, err := st.Ingest(context.Background(), peer, true, evs[i:i+500], uint64(i+500), 0)
		require.NoError(t, err)
		require.Equal(t, uint32(500), res.GetApplied())
	}
	rep, err := st.Verify()
	require.NoError(t, err)
	require.Equal(t, uint64(6000), rep.Events)
}

// TestAChildCannotWriteAsItsParent: a pushed event that claims the
// parent's own origin, with a sequence number the parent has yet to use
// and the child's unit, is quarantined; the parent's own next event takes
// that id, and the store stays whole.
func TestAChildCannotWriteAsItsParent(t *testing.T) {
	st := countyStore(t)
	peer, _ := fakeChild("f00d")
	next := st.Seq() + 1
	forger := &chain{origin: st.Self().GetNodeId(), seq: next - 1}
	key := appKey(fakeTown + "-20261123-000001")
	acc := forger.event(fakeTown, rules.KindAppAccepted, key, acceptedAt(fakeTown, "330324"))
	_, err := forger.apply(acc)
	require.NoError(t, err)
	res, err := st.Ingest(context.Background(), peer, true, []*pb.Event{acc}, 1, 0)
	require.NoError(t, err)
	require.Equal(t, uint32(1), res.GetQuarantined())
	require.Zero(t, res.GetApplied())
	q, err := st.Quarantine(1)
	require.NoError(t, err)
	require.Contains(t, q[0].GetReason(), "event.unit")

	// A genuine application of the child's, forwarded: the county writes
	// its own "received", under the sequence number the forgery claimed.
	_, ch := fakeChild("f00d")
	acc2 := ch.event(fakeTown, rules.KindAppAccepted, key, acceptedAt(fakeTown, "330324"))
	_, err = ch.apply(acc2)
	require.NoError(t, err)
	fwd := ch.event(fakeTown, rules.KindAppForwarded, key, &pb.AppRouted{ToUnit: "330324"})
	res, err = st.Ingest(context.Background(), peer, true, []*pb.Event{acc2, fwd}, 3, 0)
	require.NoError(t, err)
	require.Equal(t, uint32(2), res.GetApplied())
	app, _, err := st.GetApplication(fakeTown + "-20261123-000001")
	require.NoError(t, err)
	require.Equal(t, rules.StateReceived, app.GetState(), "the county received it")
	_, err = st.Verify()
	require.NoError(t, err)
}

// TestAHeldEventKeepsItsIDUnique: an event held back for its predecessor,
// and another event of the same id but another predecessor that is
// applied meanwhile: when the predecessor arrives, the held one is
// quarantined, not written over the id.
func TestAHeldEventKeepsItsIDUnique(t *testing.T) {
	st := countyStore(t)
	peer, _ := fakeChild("f00d")
	c := &chain{origin: "f00d"}
	k1 := appKey(fakeTown + "-20261123-000001")
	p := c.event(fakeTown, rules.KindAppAccepted, k1, acceptedAt(fakeTown, "330324"))
	_, err := c.apply(p)
	require.NoError(t, err)
	c.seq = 4
	held := c.event(fakeTown, rules.KindAppWithdrawn, k1, &pb.AppWithdrawn{Reason: "申请人撤回"}) // f00d/5, after p
	other := &chain{origin: "f00d", seq: 4}
	id2 := fakeTown + "-20261123-000002"
	acc2 := acceptedAt(fakeTown, "330324")
	acc2.Application.Id = id2
	reused := other.event(fakeTown, rules.KindAppAccepted, appKey(id2), acc2) // f00d/5 again, a record of its own

	res, err := st.Ingest(context.Background(), peer, true, []*pb.Event{held, reused}, 2, 0)
	require.NoError(t, err)
	require.Equal(t, uint32(1), res.GetHeld())
	require.Equal(t, uint32(1), res.GetApplied())

	res, err = st.Ingest(context.Background(), peer, true, []*pb.Event{p}, 3, 0)
	require.NoError(t, err)
	require.Equal(t, uint32(1), res.GetApplied(), "the predecessor")
	require.Equal(t, uint32(1), res.GetQuarantined(), "the held event whose id was taken")
	q, err := st.Quarantine(1)
	require.NoError(t, err)
	require.Contains(t, q[0].GetReason(), "event.id")
	app, _, err := st.GetApplication(fakeTown + "-20261123-000001")
	require.NoError(t, err)
	require.Equal(t, rules.StateAccepted, app.GetState(), "not withdrawn by the quarantined event")
	_, err = st.Verify()
	require.NoError(t, err)
}

// TestAPushBeyondWhatTheParentHoldsIsRefused: a child that says it was
// told more than the parent's cursor for it holds (or was told it under
// another epoch) is refused, naming acked_position, and nothing is
// written; a child that says what the parent holds goes through.
func TestAPushBeyondWhatTheParentHoldsIsRefused(t *testing.T) {
	county := startTestNode(t, "330324", "", nil)
	county.importSeed(t)
	sc := syncClient(county)
	peer, ch := fakeChild("f00d")
	key := appKey(fakeTown + "-20261123-000001")
	acc := ch.event(fakeTown, rules.KindAppAccepted, key, acceptedAt(fakeTown, "330324"))
	_, err := ch.apply(acc)
	require.NoError(t, err)
	fwd := ch.event(fakeTown, rules.KindAppForwarded, key, &pb.AppRouted{ToUnit: "330324"})
	_, err = ch.apply(fwd)
	require.NoError(t, err)
	pushAcked := func(from *pb.Peer, acked, after, last uint64, evs ...*pb.Event) (*pb.PushResponse, error) {
		res, err := sc.Push(context.Background(), connect.NewRequest(&pb.PushRequest{Child: from, Events: evs,
			AfterPosition: after, LastPosition: last, AckedPosition: acked}))
		if err != nil {
			return nil, err
		}
		return res.Msg, nil
	}
	res, err := pushAcked(peer, 0, 0, 1, acc)
	require.NoError(t, err)
	require.Equal(t, uint64(1), res.GetAckedPosition())

	head := county.Store.FeedHead()
	_, err = pushAcked(peer, 5, 5, 6, fwd)
	requireCode(t, err, connect.CodeFailedPrecondition, "acked_position")
	require.Equal(t, head, county.Store.FeedHead(), "nothing written")
	other := proto.Clone(peer).(*pb.Peer)
	other.Epoch++
	_, err = pushAcked(other, 1, 1, 2, fwd)
	requireCode(t, err, connect.CodeFailedPrecondition, "acked_position")
	require.Equal(t, head, county.Store.FeedHead(), "nothing written")

	// Skipped positions (events that stay below) move after_position, not
	// what the parent acknowledged.
	res, err = pushAcked(peer, 1, 4, 5, fwd)
	require.NoError(t, err)
	require.Equal(t, uint32(1), res.GetApplied())
	require.Equal(t, uint64(5), res.GetAckedPosition())
}

// countyStore is a county's store without fsync, closed with the test.
func countyStore(t *testing.T) *solo {
	t.Helper()
	st, err := openSolo(soloConfig{Dir: t.TempDir(), Unit: county, Calendar: seedCalendar(t), NoSync: true})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}

// TestAnEventFromTheFutureMovesNoClock: an event dated 2100 is quarantined
// for its clock, and what the receiver writes next carries its own time.
func TestAnEventFromTheFutureMovesNoClock(t *testing.T) {
	county := startTestNode(t, "330324", "", nil)
	county.importSeed(t)
	peer, ch := fakeChild("f00d")
	key := appKey(fakeTown + "-20261123-000001")
	ch.clock.last = uint64(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()) << 16
	acc := ch.event(fakeTown, rules.KindAppAccepted, key, acceptedAt(fakeTown, "330324"))
	res, err := push(t, syncClient(county), peer, 1, acc)
	require.NoError(t, err)
	require.Equal(t, uint32(1), res.GetQuarantined())
	q, err := county.Store.Quarantine(1)
	require.NoError(t, err)
	require.Contains(t, q[0].GetReason(), "时钟超前")

	// Five minutes ahead is a fast clock, not a forgery: applied.
	_, ch2 := fakeChild("f00e")
	ch2.clock.last = uint64(county.clock.Now().Add(4*time.Minute).UnixMilli()) << 16
	acc2 := ch2.event(fakeTown, rules.KindAppAccepted, appKey(fakeTown+"-20261123-000001"), acceptedAt(fakeTown, "330324"))
	res, err = push(t, syncClient(county), &pb.Peer{Unit: fakeTown, NodeId: "f00e", Epoch: 7}, 1, acc2)
	require.NoError(t, err)
	q, _ = county.Store.Quarantine(1)
	require.Equal(t, uint32(1), res.GetApplied(), "%v %v", res, q)

	a := county.accept(t, acceptReq())
	require.Less(t, a.GetAcceptedAt().AsTime().Year(), 2100, "the county's clock stayed its own")
}

// TestSyncedAcceptancesMeetTheWindowsLimits: an acceptance that arrives by
// sync is held to what a window may write: no name of 500 KB, no 10,005
// materials, no identity number that fails its check.
func TestSyncedAcceptancesMeetTheWindowsLimits(t *testing.T) {
	county := startTestNode(t, "330324", "", nil)
	county.importSeed(t)
	sc := syncClient(county)
	many := make([]string, 10005)
	for i := range many {
		many[i] = fmt.Sprintf("材料%d", i)
	}
	tests := []struct {
		name string
		edit func(a *pb.Application)
		want string
	}{
		{"a 500 KB name", func(a *pb.Application) { a.Applicant.Name = strings.Repeat("王", 170000) }, "applicant.name"},
		{"10,005 materials", func(a *pb.Application) { a.MaterialsReceived = many }, "materials"},
		{"a bad identity number", func(a *pb.Application) { a.Applicant.IdNumber = "330324195803121226" }, "applicant.id_number"},
		{"a bad phone", func(a *pb.Application) { a.Applicant.Phone = "call me" }, "applicant.phone"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			origin := fmt.Sprintf("bad%d", i)
			peer, ch := fakeChild(origin)
			acc := acceptedAt(fakeTown, "330324")
			tt.edit(acc.GetApplication())
			ev := ch.event(fakeTown, rules.KindAppAccepted, appKey(acc.GetApplication().GetId()), acc)
			res, err := push(t, sc, peer, 1, ev)
			if err != nil {
				// Too large for a batch at all: refused whole, nothing stored.
				require.Equal(t, connect.CodeResourceExhausted, connect.CodeOf(err), "%v", err)
				return
			}
			require.Equal(t, uint32(1), res.GetQuarantined())
			q, err := county.Store.Quarantine(1)
			require.NoError(t, err)
			require.Contains(t, q[0].GetReason(), tt.want)
			require.Nil(t, appOn(county, acc.GetApplication().GetId()))
		})
	}
}

// TestQuarantinePerChildIsBounded: a child pushing junk by the thousand
// leaves at most MaxQuarantinePerChild entries whole; the older are
// summarized, and the count keeps every one.
func TestQuarantinePerChildIsBounded(t *testing.T) {
	county := startTestNode(t, "330324", "", nil)
	sc := syncClient(county)
	peer, ch := fakeChild("junk")
	total := store.MaxQuarantinePerChild + 700
	var last uint64
	for sent := 0; sent < total; {
		var batch []*pb.Event
		for len(batch) < sync.MaxBatchEvents/2 && sent < total {
			ev := ch.event(fakeTown, rules.KindAppDecided, appKey(fmt.Sprintf("%s-20261123-%06d", fakeTown, sent)), &pb.AppDecided{Approved: true})
			batch = append(batch, ev)
			sent++
		}
		last += uint64(len(batch))
		res, err := push(t, sc, peer, last, batch...)
		require.NoError(t, err)
		require.Equal(t, uint32(len(batch)), res.GetQuarantined())
	}
	q, _ := county.Store.SyncCounts()
	require.Equal(t, uint64(total), q, "every one counted")
	kept, err := county.Store.Quarantine(10 * total)
	require.NoError(t, err)
	require.Len(t, kept, store.MaxQuarantinePerChild)
	require.Equal(t, uint64(total), kept[0].GetEvent().GetSeq(), "the newest kept")
	sums, err := county.Store.QuarantineSummaries()
	require.NoError(t, err)
	require.Len(t, sums, 1)
	require.Contains(t, sums[0].GetReason(), "700 个较早的隔离事件")
	st, err := county.status.GetStatus(context.Background(), connect.NewRequest(&pb.GetStatusRequest{}))
	require.NoError(t, err)
	require.Contains(t, fmt.Sprint(st.Msg.GetRecentQuarantine()), "700 个较早的隔离事件")
}
