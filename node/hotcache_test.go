package node

import (
	"bytes"
	"io"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/cluster"
	"github.com/jiujin/jiujin/node/store"
)

// TestHotCacheWithinOneBatch changes the catalog and the delegations in
// the middle of one batch: the commands after each change must see it, as
// they do when applied one by one.
func TestHotCacheWithinOneBatch(t *testing.T) {
	full := seedCatalog(t)
	without := proto.Clone(full).(*pb.ImportCatalogRequest)
	for i, m := range without.Matters {
		if m.GetCode() == "MZ-005" {
			without.Matters = append(without.Matters[:i], without.Matters[i+1:]...)
			break
		}
	}
	now := at("2026-11-23", 9).UnixMilli()
	c := func(op func(*pb.Command)) *pb.Command {
		cmd := &pb.Command{NowMs: now, Actor: "管理员"}
		op(cmd)
		return cmd
	}
	grant := c(func(c *pb.Command) {
		c.Op = &pb.Command_Grant{Grant: &pb.GrantDelegationRequest{MatterCode: "MZ-005", Unit: "330324101", Mode: "devolve", From: "2026-11-23"}}
	})
	cmds := []*pb.Command{
		groupIdentity,
		c(func(c *pb.Command) { c.Op = &pb.Command_ImportCatalog{ImportCatalog: full} }),
		acceptCmd(9),
		c(func(c *pb.Command) { c.Op = &pb.Command_ImportCatalog{ImportCatalog: without} }),
		acceptCmd(9), // the matter is withdrawn
		c(func(c *pb.Command) { c.Op = &pb.Command_ImportCatalog{ImportCatalog: full} }),
		acceptCmd(9),
		grant,
		grant, // overlaps the first
		c(func(c *pb.Command) {
			c.Op = &pb.Command_Revoke{Revoke: &pb.RevokeDelegationRequest{Id: "D-000001", Reason: "调整"}}
		}),
		grant, // allowed again
	}
	var logs []*raft.Log
	for i, cmd := range cmds {
		logs = append(logs, logOf(t, uint64(i+1), cmd))
	}
	batched := freshStore(t, "")
	defer batched.Close()
	one := freshStore(t, "")
	defer one.Close()
	got := newFSM(batched).ApplyBatch(logs)
	var want []any
	for _, l := range logs {
		want = append(want, newFSM(one).Apply(l))
	}
	errOf := func(r any) error { return r.(cluster.FSMResult).Err }
	for i := range logs {
		require.Equal(t, errOf(want[i]) == nil, errOf(got[i]) == nil, "entry %d: batched %v, one by one %v", i+1, errOf(got[i]), errOf(want[i]))
	}
	require.NoError(t, errOf(got[2]))
	require.ErrorIs(t, errOf(got[4]), store.ErrNotFound, "withdrawn in the same batch")
	require.NoError(t, errOf(got[6]), "published again in the same batch")
	require.NoError(t, errOf(got[7]))
	require.ErrorContains(t, errOf(got[8]), "D-000001", "the first grant of the batch is seen")
	require.NoError(t, errOf(got[10]), "the revocation of the batch is seen")
	require.True(t, sameFeeds(batched, one))
}

// TestHotCacheAfterRestore: a store restored from a snapshot forgets what
// it had cached.
func TestHotCacheAfterRestore(t *testing.T) {
	src := freshStore(t, "")
	defer src.Close()
	fsm := newFSM(src)
	fsm.ApplyBatch([]*raft.Log{logOf(t, 1, groupIdentity), logOf(t, 2, &pb.Command{NowMs: at("2026-11-23", 9).UnixMilli(), Op: &pb.Command_ImportCatalog{ImportCatalog: seedCatalog(t)}})})
	snap := &snapBuffer{}
	require.NoError(t, src.Backup(snap))

	dst := freshStore(t, "")
	defer dst.Close()
	// The destination knows the matter (cached), then is restored from a
	// state where it was never published... and then from one where it is.
	dfsm := newFSM(dst)
	empty := freshStore(t, "")
	emptySnap := &snapBuffer{}
	newFSM(empty).ApplyBatch([]*raft.Log{logOf(t, 1, groupIdentity)})
	require.NoError(t, empty.Backup(emptySnap))
	empty.Close()

	require.NoError(t, dfsm.Restore(snap.reader()))
	r := dfsm.ApplyBatch([]*raft.Log{logOf(t, 3, acceptCmd(10))})
	require.NoError(t, r[0].(cluster.FSMResult).Err)
	require.NoError(t, dfsm.Restore(emptySnap.reader()))
	r = dfsm.ApplyBatch([]*raft.Log{logOf(t, 2, acceptCmd(10))})
	require.ErrorIs(t, r[0].(cluster.FSMResult).Err, store.ErrNotFound, "the cache went with the old state")
}

type snapBuffer struct{ bytes.Buffer }

func (b *snapBuffer) reader() io.ReadCloser { return io.NopCloser(bytes.NewReader(b.Bytes())) }
