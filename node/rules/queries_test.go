package rules

import (
	"testing"

	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// TestAWithdrawnApplicationsOpenPartIsNotHeld: an open part puts an
// application on its department's list while the application is under
// way, not once it is withdrawn or decided (the rule under
// node's TestAPartOfAWithdrawnApplicationIsNotDecided).
func TestAWithdrawnApplicationsOpenPartIsNotHeld(t *testing.T) {
	open := []*pb.Task{{PartCode: "GA-001", Holder: "330324101", State: TaskOpen}}
	for _, tc := range []struct {
		state string
		holds bool
	}{{StateReceived, true}, {StateSupplementRequested, true}, {StateWithdrawn, false}, {StateApproved, false}} {
		require.Equal(t, tc.holds, holds(&pb.Application{State: tc.state, Holder: "330324", Tasks: open}, "330324101"), tc.state)
	}
}
