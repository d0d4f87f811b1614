// Package seed carries the demo county's seed data: the matter catalog
// (catalog.yaml), the working-day calendar (calendar.yaml), the delegations
// (delegations.yaml) and the units' names and phones (units.yaml), embedded
// so the binary works anywhere.
package seed

import _ "embed"

// County is the unit code of the demo county this data is for.
const County = "330324"

// Catalog is deploy/seed/catalog.yaml.
//
//go:embed catalog.yaml
var Catalog []byte

// Calendar is deploy/seed/calendar.yaml.
//
//go:embed calendar.yaml
var Calendar []byte

// Delegations is deploy/seed/delegations.yaml.
//
//go:embed delegations.yaml
var Delegations []byte

// Units is deploy/seed/units.yaml.
//
//go:embed units.yaml
var Units []byte
