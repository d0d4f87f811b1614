package delegation

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/tiers"
)

func day(t *testing.T, s string, hour int) time.Time {
	d, err := ParseDate(s)
	require.NoError(t, err)
	return d.Add(time.Duration(hour) * time.Hour)
}

func TestRoute(t *testing.T) {
	revoked := &pb.Delegation{Id: "D-000003", MatterCode: "MZ-005", Unit: "330324102", Mode: ModeEntrust, From: "2026-11-01",
		RevokedAt: timestamppb.New(day(t, "2026-11-20", 12))}
	dels := []*pb.Delegation{
		{Id: "D-000001", MatterCode: "MZ-005", Unit: "330324101", Mode: ModeDevolve, From: "2026-11-23", Until: "2026-12-31"},
		{Id: "D-000002", MatterCode: "MZ-005", Unit: "330324101", Mode: ModeProxy, From: "2026-01-01"},
		revoked,
	}
	tests := []struct {
		name      string
		accepting tiers.Unit
		at        time.Time
		want      tiers.Unit
		del       string
	}{
		{"village under the devolved township", "330324101201", day(t, "2026-11-23", 9), "330324101", "D-000001"},
		{"the township itself", "330324101", day(t, "2026-11-23", 9), "330324101", "D-000001"},
		{"before the effective day", "330324101201", day(t, "2026-11-22", 23), "330324", ""},
		{"after the end day", "330324101201", day(t, "2027-01-01", 0), "330324", ""},
		{"another township's village", "330324102201", day(t, "2026-11-23", 9), "330324", ""},
		{"entrusted, before its revocation", "330324102201", day(t, "2026-11-20", 11), "330324102", "D-000003"},
		{"entrusted, after its revocation", "330324102201", day(t, "2026-11-20", 13), "330324", ""},
		{"accepted at the county", "330324", day(t, "2026-11-23", 9), "330324", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, d := Route(dels, tt.accepting, tt.at)
			require.Equal(t, tt.want, u)
			require.Equal(t, tt.del, d.GetId())
			_, ok := Entitled(dels, u, tt.accepting, tt.at)
			require.True(t, ok, "the router's answer is always entitled")
		})
	}
	_, ok := Entitled(dels, "330324101", "330324102201", day(t, "2026-11-23", 9))
	require.False(t, ok, "a township may not decide for another township's villages")
	_, ok = Entitled(dels, "330324101201", "330324101201", day(t, "2026-11-23", 9))
	require.False(t, ok, "a village never decides")
}

// TestAdmits: a receiver admits a routing another node made under a
// delegation revoked since, which that node may not have heard of yet, but
// not one outside the delegation's days or its township.
func TestAdmits(t *testing.T) {
	dels := []*pb.Delegation{
		{Id: "D-000003", MatterCode: "MZ-005", Unit: "330324102", Mode: ModeEntrust, From: "2026-11-01", Until: "2026-11-30",
			RevokedAt: timestamppb.New(day(t, "2026-11-20", 12))},
		{Id: "D-000004", MatterCode: "MZ-005", Unit: "330324103", Mode: ModeProxy, From: "2026-11-01"},
	}
	tests := []struct {
		name      string
		unit      tiers.Unit
		accepting tiers.Unit
		at        time.Time
		admits    bool
		entitled  bool
	}{
		{"before the revocation", "330324102", "330324102201", day(t, "2026-11-20", 11), true, true},
		{"after the revocation", "330324102", "330324102201", day(t, "2026-11-25", 9), true, false},
		{"after the end day", "330324102", "330324102201", day(t, "2026-12-01", 9), false, false},
		{"before the first day", "330324102", "330324102201", day(t, "2026-10-31", 9), false, false},
		{"another township's village", "330324102", "330324101201", day(t, "2026-11-20", 11), false, false},
		{"a proxy never decides", "330324103", "330324103201", day(t, "2026-11-20", 11), false, false},
		{"the county always", "330324", "330324101201", day(t, "2026-11-25", 9), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := Admits(dels, tt.unit, tt.accepting, tt.at)
			require.Equal(t, tt.admits, ok)
			if ok && tt.unit != "330324" {
				require.Equal(t, "D-000003", d.GetId(), "the delegation itself, not a copy")
			}
			_, ok = Entitled(dels, tt.unit, tt.accepting, tt.at)
			require.Equal(t, tt.entitled, ok)
		})
	}
}

func TestValidateGrant(t *testing.T) {
	today := day(t, "2026-11-23", 10)
	existing := []*pb.Delegation{{Id: "D-000001", MatterCode: "MZ-005", Unit: "330324101", Mode: ModeDevolve, From: "2026-11-23", Until: "2026-12-31"}}
	tests := []struct {
		name string
		req  *pb.GrantDelegationRequest
		err  error
		text string
	}{
		{"ok after the other ends", &pb.GrantDelegationRequest{MatterCode: "MZ-005", Unit: "330324101", Mode: ModeEntrust, From: "2027-01-01"}, nil, ""},
		{"ok for another township", &pb.GrantDelegationRequest{MatterCode: "MZ-005", Unit: "330324102", Mode: ModeDevolve, From: "2026-11-23"}, nil, ""},
		{"proxy beside a devolution", &pb.GrantDelegationRequest{MatterCode: "MZ-005", Unit: "330324101", Mode: ModeProxy, From: "2026-11-23"}, nil, ""},
		{"overlap", &pb.GrantDelegationRequest{MatterCode: "MZ-005", Unit: "330324101", Mode: ModeEntrust, From: "2026-12-01"}, ErrDelegationConflict, "D-000001"},
		{"decision to a village", &pb.GrantDelegationRequest{MatterCode: "MZ-005", Unit: "330324101201", Mode: ModeDevolve, From: "2026-11-23"}, ErrInvalidDelegation, "unit:"},
		{"proxy to the county", &pb.GrantDelegationRequest{MatterCode: "MZ-005", Unit: "330324", Mode: ModeProxy, From: "2026-11-23"}, ErrInvalidDelegation, "unit:"},
		{"unknown mode", &pb.GrantDelegationRequest{MatterCode: "MZ-005", Unit: "330324101", Mode: "give", From: "2026-11-23"}, ErrInvalidDelegation, "mode:"},
		{"backdated", &pb.GrantDelegationRequest{MatterCode: "MZ-005", Unit: "330324102", Mode: ModeDevolve, From: "2026-11-01"}, ErrInvalidDelegation, "from:"},
		{"ends before it starts", &pb.GrantDelegationRequest{MatterCode: "MZ-005", Unit: "330324102", Mode: ModeDevolve, From: "2026-12-01", Until: "2026-11-30"}, ErrInvalidDelegation, "until:"},
		{"bad unit", &pb.GrantDelegationRequest{MatterCode: "MZ-005", Unit: "33032410", Mode: ModeDevolve, From: "2026-12-01"}, ErrInvalidDelegation, "unit:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateGrant(tt.req, existing, today)
			if tt.err == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.err)
			require.ErrorContains(t, err, tt.text)
		})
	}
}

func TestDelegationSeedFile(t *testing.T) {
	b, err := os.ReadFile("../deploy/seed/delegations.yaml")
	require.NoError(t, err)
	ds, err := ParseDelegationSeed(bytes.NewReader(b))
	require.NoError(t, err)
	require.NotEmpty(t, ds.Grants)
	require.Len(t, ds.Classes, 2)
	cat := seedCatalog(t)
	codes := map[string]bool{}
	for _, m := range cat.GetMatters() {
		codes[m.GetCode()] = true
	}
	for _, g := range ds.Grants {
		require.True(t, codes[g.GetMatterCode()], g.GetMatterCode())
	}
	for _, c := range ds.Classes {
		for _, m := range c.GetMenu() {
			require.True(t, codes[m], m)
		}
		for _, tw := range c.GetTownships() {
			for _, m := range ds.Orders[tw] {
				require.Contains(t, c.GetMenu(), m, "an order comes from its class's menu")
			}
		}
	}
	_, err = ParseDelegationSeed(strings.NewReader("delegations: [{matter: MZ-005, unit: \"330324101\", mode: give}]"))
	require.ErrorIs(t, err, ErrInvalidDelegation)
	require.ErrorContains(t, err, "delegations[0].mode")
	_, err = ParseDelegationSeed(strings.NewReader("delegatoins: []"))
	require.ErrorContains(t, err, "delegatoins")
}
