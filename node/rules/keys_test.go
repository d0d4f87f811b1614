package rules

import "testing"

// TestRecordKeysAsNodeTestsSpellThem: node's tests build record keys
// themselves (node/solo_test.go); they must stay those of the rules.
func TestRecordKeysAsNodeTestsSpellThem(t *testing.T) {
	for got, want := range map[string]string{
		recCatalog:                  "catalog",
		appKey("330324-1"):          "app/330324-1",
		requestKey("330324-1", "7"): "request/330324-1/7",
	} {
		if got != want {
			t.Errorf("record key %q, node's tests spell it %q", got, want)
		}
	}
}
