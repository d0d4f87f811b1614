package client

import (
	"fmt"
	"net/url"
	"strings"
)

// ParseNodeURLs reads --node: one URL, or a county group's members
// separated by commas.
func ParseNodeURLs(s string) ([]*url.URL, error) { return ParseURLList("--node", s) }

// ParseURLList reads node URLs separated by commas, given to flag (which
// the error names). Each is http or https with a host; trailing slashes
// are dropped, empty parts skipped; at least one is required.
func ParseURLList(flag, s string) ([]*url.URL, error) {
	var out []*url.URL
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimRight(strings.TrimSpace(part), "/")
		if part == "" {
			continue
		}
		u, err := url.Parse(part)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%s: %q 不是节点地址（应形如 http://10.0.0.1:8080）", flag, part)
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: 未指定节点地址", flag)
	}
	return out, nil
}
