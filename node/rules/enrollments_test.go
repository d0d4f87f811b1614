package rules

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// TestEnrollmentCommands: a box asks the node of its unit or the one right
// above; asking again finds the same request; only the county answers,
// once, and a malformed request names its field.
func TestEnrollmentCommands(t *testing.T) {
	clock := &manualClock{t: at("2026-11-23", 9)}
	c := openUnit(t, county, clock)
	town := openUnit(t, "330324101", clock)
	pub := bytes.Repeat([]byte{7}, 32)
	req := func(unit string, pub []byte) *pb.Command {
		return &pb.Command{Op: &pb.Command_Enroll{Enroll: &pb.Enrollment{Unit: unit, PublicKey: pub, Hosts: []string{"10.1.0.2"},
			Proof: bytes.Repeat([]byte{1}, 32)}}}
	}
	for name, tc := range map[string]struct {
		unit  string
		pub   []byte
		field string
	}{
		"a unit two tiers down": {"330324101201", pub, "unit"},
		"another township's":    {"330324102201", pub, "unit"},
		"a short key":           {"330324101", pub[:16], "public_key"},
		"a malformed unit":      {"33032410", pub, "unit"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := apply(c, clock, req(tc.unit, tc.pub))
			require.Error(t, err)
			require.Equal(t, tc.field, fieldOf(err), "%v", err)
		})
	}
	out, err := apply(c, clock, req("330324101", pub))
	require.NoError(t, err)
	e := out.(*pb.Enrollment)
	require.Equal(t, EnrollmentID(pub), e.GetId())
	require.Equal(t, county, e.GetReceivedBy())
	again, err := apply(c, clock, req("330324101", pub))
	require.NoError(t, err)
	require.Equal(t, e.GetId(), again.(*pb.Enrollment).GetId(), "asked again: the same request")

	answer := &pb.Command{Op: &pb.Command_AnswerEnrollment{AnswerEnrollment: &pb.AnswerEnrollmentRequest{Id: e.GetId(), Refused: "令牌不对"}}}
	_, err = apply(town, clock, answer)
	require.Error(t, err, "a township does not answer")
	_, err = apply(c, clock, &pb.Command{Op: &pb.Command_AnswerEnrollment{AnswerEnrollment: &pb.AnswerEnrollmentRequest{Id: e.GetId()}}})
	require.Equal(t, "certificate", fieldOf(err))
	_, err = apply(c, clock, answer)
	require.NoError(t, err)
	_, err = apply(c, clock, answer)
	require.Equal(t, "id", fieldOf(err), "answered once")
	got, err := c.Enrollment(e.GetId())
	require.NoError(t, err)
	require.Equal(t, "令牌不对", got.GetRefused())
	pending, err := c.Enrollments(true)
	require.NoError(t, err)
	require.Empty(t, pending)
}
