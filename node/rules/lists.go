package rules

import (
	"bytes"
	"crypto/sha256"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// AppFilter selects applications.
type AppFilter struct {
	State string
	// A matter: the application's own, or one of its parts.
	MatterCode string
	// A department: the application's, or one of its parts'.
	Department  string
	OverdueOnly bool
	// Applications this unit holds or has an open part of, in any state.
	HeldOnly bool
	// What waits on this unit: open applications it holds and open parts
	// it decides, oldest due first.
	Mine bool
	// Part of the applicant's name.
	ApplicantName string
	// The SHA-256 of the applicant's identity number (IDDigest).
	ApplicantID []byte
	// Due: the one due first on top (Mine implies it); else newest first.
	Due bool
	// Offset skips this many of those that match; Limit takes at most so
	// many after them.
	Offset int
	Limit  int
}

// IDDigest is what an identity number is searched by: the SHA-256 of the
// normalised number. The number itself is neither kept nor logged for a
// search.
func IDDigest(id string) []byte {
	d := sha256.Sum256([]byte(strings.ToUpper(strings.TrimSpace(id))))
	return d[:]
}

// LooksLikeIDNumber tells an identity number from a name in a search.
func LooksLikeIDNumber(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) != 18 {
		return false
	}
	for i, r := range s {
		if !(r >= '0' && r <= '9') && !(i == 17 && (r == 'X' || r == 'x')) {
			return false
		}
	}
	return true
}

// ListApplications returns the applications that pass the filter, newest
// first within each accepting unit (or the one due first on top), with
// deadlines computed now, and how many matched in all.
func (s *Rules) ListApplications(f AppFilter) ([]*pb.Application, int, error) {
	if f.State != "" {
		if _, ok := StateLabels[f.State]; !ok {
			return nil, 0, invalid("state", "未知状态 %q（可选：%s）", f.State, strings.Join(States, ", "))
		}
	}
	if f.ApplicantID != nil && len(f.ApplicantID) != sha256.Size {
		return nil, 0, invalid("applicant_id_sha256", "应为 32 字节的 SHA-256，实为 %d 字节", len(f.ApplicantID))
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	if f.Limit > 1000 {
		return nil, 0, invalid("limit", "一次最多列出 1000 件")
	}
	if f.Offset < 0 {
		return nil, 0, invalid("offset", "不能为负")
	}
	f.Due = f.Due || f.Mine
	now := s.st.Now()
	unit := string(s.unit)
	var out []*pb.Application
	total := 0
	err := s.appRows(now, func(rows []*appRow) error {
		var matched []*appRow
		for k := range rows {
			r := rows[k]
			if !f.Due {
				r = rows[len(rows)-1-k] // newest first
			}
			a := r.app
			if f.State != "" && a.GetState() != f.State ||
				f.MatterCode != "" && a.GetMatterCode() != f.MatterCode && !slices.Contains(a.GetParts(), f.MatterCode) ||
				f.Department != "" && !ofDepartment(a, f.Department) ||
				f.ApplicantName != "" && !strings.Contains(a.GetApplicant().GetName(), f.ApplicantName) ||
				f.ApplicantID != nil && !bytes.Equal(IDDigest(a.GetApplicant().GetIdNumber()), f.ApplicantID) ||
				f.HeldOnly && !f.Mine && !holds(a, unit) ||
				f.Mine && !waitsOn(a, unit) ||
				f.OverdueOnly && !(r.dl.GetOverdue() && !decided(a)) {
				continue
			}
			matched = append(matched, r)
		}
		total = len(matched)
		if f.Due {
			slices.SortStableFunc(matched, func(x, y *appRow) int { return dueOrder(x.app, x.dl, y.app, y.dl) })
		}
		matched = matched[min(f.Offset, len(matched)):]
		matched = matched[:min(f.Limit, len(matched))]
		for _, r := range matched {
			a := proto.Clone(r.app).(*pb.Application)
			a.Deadline = proto.Clone(r.dl).(*pb.Deadline)
			out = append(out, a)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// ofDepartment: the application's department, or one of its parts'.
func ofDepartment(a *pb.Application, dept string) bool {
	if a.GetDepartment() == dept {
		return true
	}
	for _, t := range a.GetTasks() {
		if t.GetDepartment() == dept {
			return true
		}
	}
	return false
}

// holds reports whether a unit has a move on an application: it holds it,
// or an open part of one not yet decided or withdrawn.
func holds(a *pb.Application, unit string) bool {
	if a.GetHolder() == unit {
		return true
	}
	if decided(a) {
		return false
	}
	for _, t := range a.GetTasks() {
		if t.GetHolder() == unit && t.GetState() == TaskOpen {
			return true
		}
	}
	return false
}

// waitsOn reports whether an application waits on a unit: it holds it and
// it is not finished (handed out, rated or withdrawn), or the unit holds an
// open part of it.
func waitsOn(a *pb.Application, unit string) bool {
	switch a.GetState() {
	case StateDelivered, StateRated, StateWithdrawn:
		return false
	}
	return holds(a, unit)
}

// dueOrder orders a to-do list: undecided applications by their promised
// (else statutory) due date, earliest first; then decided ones waiting to
// be handed out, oldest decision first.
func dueOrder(x *pb.Application, xd *pb.Deadline, y *pb.Application, yd *pb.Deadline) int {
	dx, dy := decided(x), decided(y)
	switch {
	case dx != dy:
		if dx {
			return 1
		}
		return -1
	case dx:
		return x.GetUpdatedAt().AsTime().Compare(y.GetUpdatedAt().AsTime())
	}
	if c := strings.Compare(due(xd), due(yd)); c != 0 {
		return c
	}
	return x.GetAcceptedAt().AsTime().Compare(y.GetAcceptedAt().AsTime())
}

func due(d *pb.Deadline) string {
	for _, s := range []string{d.GetPromisedDue(), d.GetStatutoryDue()} {
		if s != "" {
			return s
		}
	}
	return "9999-12-31"
}
