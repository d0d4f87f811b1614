package rules

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/node/store"
)

// The applications a node holds, decoded once and kept: a list reads them
// from memory and re-reads only those whose records changed since, by the
// feed (an app/ or task/ event names the application). Without it every
// list decoded every record (10,000 applications: 40 ms a page).

// appRow is one application as the lists see it: the record with its
// parts (shared, never modified), and its deadline as of the table's day.
type appRow struct {
	app *pb.Application
	dl  *pb.Deadline
}

type appTable struct {
	// stale: read them all again (set without the lock, by Forget).
	stale  atomic.Bool
	mu     sync.Mutex
	loaded bool
	epoch  uint64
	pos    uint64    // the feed position the rows reflect
	ids    []string  // in key order
	list   []*appRow // the rows of ids, in the same order
	// day is the day the rows' deadlines were computed for (China time).
	day string
}

// feedChunk is how many feed entries one catch-up step reads.
const feedChunk = 2000

// appRows brings the table up to date and calls fn with the rows in key
// order (the table locked: fn must not keep them past its return, nor
// modify them or their applications). Deadlines are computed once a day,
// and for a changed application when it is read again.
func (s *Rules) appRows(now time.Time, fn func(rows []*appRow) error) error {
	t := &s.apps
	t.mu.Lock()
	defer t.mu.Unlock()
	head, epoch := s.st.FeedHead(), s.st.Epoch()
	if t.stale.Swap(false) || !t.loaded || epoch != t.epoch || head < t.pos {
		if err := s.loadApps(t, head, epoch); err != nil {
			return err
		}
	} else if head > t.pos {
		if err := s.catchUpApps(t, head, now); err != nil {
			return err
		}
	}
	if day := now.In(delegation.China).Format("2006-01-02"); day != t.day {
		for _, r := range t.list {
			r.dl = computeDeadline(r.app, s.cal, now)
		}
		t.day = day
	}
	return fn(t.list)
}

// loadApps reads every application; the feed position is taken first, so
// what is written meanwhile is read again by the next catch-up.
func (s *Rules) loadApps(t *appTable, head, epoch uint64) error {
	var ids []string
	var list []*appRow
	err := s.st.View(func(txn store.Reader) error {
		return txn.Scan(recApp, false, func(key string, rec *pb.StoredRecord) (bool, error) {
			a, err := appFromRecord(rec)
			if err != nil {
				return false, err
			}
			if len(a.GetParts()) > 0 {
				if a.Tasks, err = tasksOf(txn, a); err != nil {
					return false, err
				}
			}
			r := &appRow{app: a}
			ids, list = append(ids, a.GetId()), append(list, r)
			return true, nil
		})
	})
	if err != nil {
		return err
	}
	// Every deadline is computed again (the day is forgotten).
	t.ids, t.list, t.pos, t.epoch, t.loaded, t.day = ids, list, head, epoch, true, ""
	return nil
}

// catchUpApps re-reads the applications the feed says changed after the
// table's position, with their deadlines as of now.
func (s *Rules) catchUpApps(t *appTable, head uint64, now time.Time) error {
	dirty := map[string]bool{}
	for t.pos < head {
		_, last, err := s.st.ReadFeed(t.pos, func(ev *pb.Event, _ string) bool {
			if id, ok := appOfKey(ev.GetRecordKey()); ok {
				dirty[id] = true
			}
			return false
		}, feedChunk, 1<<30)
		if err != nil {
			return err
		}
		if last <= t.pos {
			break
		}
		t.pos = last
	}
	return s.st.View(func(txn store.Reader) error {
		for id := range dirty {
			rec, err := txn.Record(appKey(id))
			if err != nil {
				return err
			}
			if rec == nil {
				continue // a part that arrived before its application
			}
			a, err := appFromRecord(rec)
			if err != nil {
				return err
			}
			if len(a.GetParts()) > 0 {
				if a.Tasks, err = tasksOf(txn, a); err != nil {
					return err
				}
			}
			r := &appRow{app: a, dl: computeDeadline(a, s.cal, now)}
			if i, known := slices.BinarySearch(t.ids, id); known {
				t.list[i] = r
			} else {
				t.ids, t.list = slices.Insert(t.ids, i, id), slices.Insert(t.list, i, r)
			}
		}
		return nil
	})
}

// appOfKey is the application an event's record belongs to: app/ID or
// task/ID/PART.
func appOfKey(key string) (string, bool) {
	switch {
	case strings.HasPrefix(key, recApp):
		return key[len(recApp):], true
	case strings.HasPrefix(key, recTask):
		id, _, ok := strings.Cut(key[len(recTask):], "/")
		return id, ok
	}
	return "", false
}
