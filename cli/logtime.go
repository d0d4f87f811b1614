package cli

import (
	"log/slog"

	"github.com/jiujin/jiujin/delegation"
)

// logOptions make a node's log carry Beijing time with its offset
// (2026-11-23T09:30:00.000+08:00), the time the command line prints, whatever
// zone the box is set to.
var logOptions = &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime {
		a.Value = slog.TimeValue(a.Value.Time().In(delegation.China))
	}
	return a
}}
