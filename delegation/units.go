package delegation

import (
	"errors"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// ErrInvalidUnits marks a units file that cannot be read.
var ErrInvalidUnits = errors.New("单位文件有误")

type unitsFile struct {
	Units []struct {
		Code    string `yaml:"code"`
		Name    string `yaml:"name"`
		Phone   string `yaml:"phone"`
		Address string `yaml:"address"`
	} `yaml:"units"`
}

// ParseUnitsYAML reads a file of units' names and phones (like
// deploy/seed/units.yaml) as a request to set them. The node checks each
// unit (code in the county, name, phone) when it is set.
func ParseUnitsYAML(r io.Reader) (*pb.SetUnitsRequest, error) {
	var f unitsFile
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidUnits, err)
	}
	if len(f.Units) == 0 {
		return nil, fmt.Errorf("%w: units: 文件中没有单位", ErrInvalidUnits)
	}
	req := &pb.SetUnitsRequest{}
	for _, u := range f.Units {
		req.Units = append(req.Units, &pb.Unit{Code: u.Code, Name: u.Name, Phone: u.Phone, Address: u.Address})
	}
	return req, nil
}
