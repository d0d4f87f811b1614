package store_test

import (
	"fmt"
	"math/rand"
	"sort"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/store"
	"github.com/stretchr/testify/require"
)

// TestRequestIDsArePrunedAsEveryMemberPrunesThem feeds the state machine
// writes under request ids at proposers' clocks that wander (forward by
// minutes and hours, back by a little), in batches, reopening the store
// now and then, and checks after every batch that the ids kept are those
// of the rule every member follows: each write with an id, once applied,
// deletes up to store.DonePrunePer of the oldest ids kept from more than
// store.DoneRetention before its own clock. What a member remembers to skip the
// look into its store must never change what is deleted. Seeded: a
// failure replays.
func TestRequestIDsArePrunedAsEveryMemberPrunesThem(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			dir := t.TempDir()
			st := freshStore(t, dir)
			defer func() { st.Close() }()
			fsm := NewFSM(st)
			index := uint64(2)
			require.NoError(t, fsm.ApplyBatch([]*raft.Log{logOf(t, 1, groupIdentity),
				logOf(t, 2, &pb.Command{NowMs: at("2026-11-23", 8).UnixMilli(), Op: &pb.Command_ImportCatalog{ImportCatalog: seedCatalog(t)}})})[1].(FSMResult).Err)

			var model []string // doneAt keys, in key order
			now := at("2026-11-23", 9).UnixMilli()
			for round := 0; round < 60; round++ {
				var logs []*raft.Log
				var cmds []*pb.Command
				for i := rng.Intn(8); i >= 0; i-- {
					switch r := rng.Intn(20); {
					case r == 0:
						now += int64(rng.Intn(3*3600)) * 1000 // hours pass
					case r < 3:
						now -= int64(rng.Intn(120)) * 1000 // a proposer's clock behind
					default:
						now += int64(rng.Intn(90)) * 1000
					}
					cmd := acceptCmd(10)
					cmd.NowMs = now
					cmd.RequestId = fmt.Sprintf("r%d-%d", round, i)
					index++
					logs = append(logs, logOf(t, index, cmd))
					cmds = append(cmds, cmd)
				}
				for i, res := range fsm.ApplyBatch(logs) {
					require.NoError(t, res.(FSMResult).Err)
					cmd := cmds[i]
					model = append(model, string(store.DoneAtKey(cmd.NowMs, cmd.RequestId)))
					sort.Strings(model)
					limit := string(store.DoneAtKey(cmd.NowMs-store.DoneRetention.Milliseconds(), ""))
					n := 0
					for n < store.DonePrunePer && n < len(model) && model[n] < limit {
						n++
					}
					model = model[n:]
				}
				var kept []string
				require.NoError(t, st.ViewTxn(func(txn *badger.Txn) error {
					it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(store.PrefixDoneAt)})
					defer it.Close()
					for it.Rewind(); it.Valid(); it.Next() {
						kept = append(kept, string(it.Item().KeyCopy(nil)))
						_, err := txn.Get(store.DoneKey(string(it.Item().Key()[len(store.PrefixDoneAt)+9:])))
						require.NoError(t, err, "an id and its time go together")
					}
					return nil
				}))
				require.Equal(t, model, kept, "round %d", round)
				if rng.Intn(10) == 0 {
					// Reopened: what it knew of the oldest id is gone.
					require.NoError(t, st.Close())
					st = freshStore(t, dir)
					fsm = NewFSM(st)
				}
			}
			require.Less(t, len(model), 60*8, "ids were pruned")
		})
	}
}
