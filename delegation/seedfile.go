package delegation

import (
	"fmt"
	"io"

	"gopkg.in/yaml.v3"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// DelegationSeed is a county's delegated item lists, township classes and
// menus, orders and negative list, as read from a file like
// deploy/seed/delegations.yaml.
type DelegationSeed struct {
	Grants   []*pb.GrantDelegationRequest
	Classes  []*pb.TownshipClass
	Orders   map[string][]string
	Negative []*pb.NegativeEntry
}

type delegationFile struct {
	Delegations []struct {
		Matter string `yaml:"matter"`
		Unit   string `yaml:"unit"`
		Mode   string `yaml:"mode"`
		From   string `yaml:"from"`
		Until  string `yaml:"until"`
	} `yaml:"delegations"`
	Classes []struct {
		Code      string   `yaml:"code"`
		Name      string   `yaml:"name"`
		Townships []string `yaml:"townships"`
		Menu      []string `yaml:"menu"`
	} `yaml:"classes"`
	Orders   map[string][]string `yaml:"orders"`
	Negative []struct {
		Matter string `yaml:"matter"`
		Tier   string `yaml:"tier"`
	} `yaml:"negative"`
}

// ParseDelegationSeed reads such a file. The node checks each item when it
// is applied; this only checks the file's shape.
func ParseDelegationSeed(r io.Reader) (*DelegationSeed, error) {
	var f delegationFile
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: delegations: %v", ErrInvalidDelegation, err)
	}
	out := &DelegationSeed{Orders: f.Orders}
	for i, d := range f.Delegations {
		if ModeLabels[d.Mode] == "" {
			return nil, fmt.Errorf("%w: delegations[%d].mode: %q", ErrInvalidDelegation, i, d.Mode)
		}
		out.Grants = append(out.Grants, &pb.GrantDelegationRequest{MatterCode: d.Matter, Unit: d.Unit, Mode: d.Mode, From: d.From, Until: d.Until})
	}
	for _, c := range f.Classes {
		out.Classes = append(out.Classes, &pb.TownshipClass{Code: c.Code, Name: c.Name, Townships: c.Townships, Menu: c.Menu})
	}
	for _, n := range f.Negative {
		out.Negative = append(out.Negative, &pb.NegativeEntry{MatterCode: n.Matter, Tier: n.Tier})
	}
	return out, nil
}
