// Package testseed is the demo county's seed data as tests use it: dates
// of its calendar, its catalog, a standard acceptance and the raft entries
// that set up a county group. Only tests import it.
package testseed

import (
	"bytes"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
)

// County is the demo county's unit code.
const County = "330324"

// IDWang is 王秀英's identity number (check digit included).
const IDWang = "330324195803121225"

// At is a time in China on a date of the seed calendar.
func At(date string, hour int) time.Time {
	d, err := delegation.ParseDate(date)
	if err != nil {
		panic(err)
	}
	return d.Add(time.Duration(hour) * time.Hour)
}

// Calendar is the seed working-day calendar.
func Calendar(t testing.TB) *delegation.Calendar {
	cal, err := delegation.LoadCalendar(bytes.NewReader(seed.Calendar))
	require.NoError(t, err)
	return cal
}

// Catalog is the seed catalog as an import request.
func Catalog(t testing.TB) *pb.ImportCatalogRequest {
	req, err := delegation.ParseCatalogYAML(bytes.NewReader(seed.Catalog))
	require.NoError(t, err)
	return req
}

// AcceptReq is 王秀英's application for MZ-005 with its two materials.
func AcceptReq() *pb.AcceptApplicationRequest {
	return &pb.AcceptApplicationRequest{
		MatterCode: "MZ-005",
		Applicant:  &pb.Applicant{Name: "王秀英", IdNumber: IDWang, Phone: "13857700101"},
		Materials:  []string{"居民身份证", "近期一寸免冠证件照"},
	}
}

// AcceptCmd is AcceptReq as a window's command at hour on 2026-11-23.
func AcceptCmd(hour int) *pb.Command {
	return &pb.Command{NowMs: At("2026-11-23", hour).UnixMilli(), Actor: "窗口", Op: &pb.Command_Accept{Accept: AcceptReq()}}
}

// GroupIdentity is the command that gives a county group its identity.
var GroupIdentity = &pb.Command{NowMs: At("2026-11-23", 8).UnixMilli(), Op: &pb.Command_Identity{Identity: &pb.Identity{NodeId: "c0c0c0c0c0c0c0c0", Epoch: 7}}}

// GroupSetup is a group's first two log entries: its identity, the catalog.
func GroupSetup(t testing.TB) []*raft.Log {
	return []*raft.Log{LogOf(t, 1, GroupIdentity),
		LogOf(t, 2, &pb.Command{NowMs: At("2026-11-23", 9).UnixMilli(), Op: &pb.Command_ImportCatalog{ImportCatalog: Catalog(t)}})}
}

// CmdBytes is a command as a raft entry carries it.
func CmdBytes(t testing.TB, cmd *pb.Command) []byte {
	b, err := proto.Marshal(cmd)
	require.NoError(t, err)
	return b
}

// LogOf is a raft entry of one command.
func LogOf(t testing.TB, index uint64, cmd *pb.Command) *raft.Log {
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: CmdBytes(t, cmd)}
}
