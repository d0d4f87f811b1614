package store

import "time"

// Clock gives the time; tests inject their own.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// hlc is a hybrid logical clock: unix milliseconds in the upper 48 bits, a
// logical counter in the lower 16. It never goes backwards, even when the
// wall clock does, and it is advanced past every timestamp it observes.
type hlc struct{ last uint64 }

// next returns a timestamp after every earlier one, as close to wallMs as it
// can be.
func (h *hlc) next(wallMs int64) uint64 {
	p := uint64(wallMs) << 16
	if p > h.last {
		h.last = p
	} else {
		h.last++
	}
	return h.last
}

// observe moves the clock past a timestamp seen in a received event.
func (h *hlc) observe(ts uint64) {
	if ts > h.last {
		h.last = ts
	}
}

// hlcTime converts an HLC timestamp to the wall time it carries.
func hlcTime(ts uint64) time.Time { return time.UnixMilli(int64(ts >> 16)) }
