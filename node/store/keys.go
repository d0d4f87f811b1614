package store

import (
	"encoding/binary"
	"strings"
)

// The store's key space. Every event is written in one transaction with its
// feed entry, its id index, its record's history entry and the record.
//
//	m/<name>                  node metadata: id, epoch, counters
//	f/<pos:8>                 feed: the event, by local arrival position
//	i/<origin>/<seq:8>        event id -> feed position
//	r/<record key>            materialized record (StoredRecord)
//	h/<record key>/<pos:8>    a record's events, in order
//	c/<name>                  counters for readable ids (per unit and day)
//	x/<hash>                  event hash -> feed position (chains, forks)
//	o/<origin>                origin node id -> the unit it writes as
//	q/<n:8>                   quarantined events (QuarantineEntry)
//	p/<prev hash>/<origin>/<seq:8>  events held back for their predecessor
//	k/pull                    cursor on the parent's feed
//	k/push/<child node id>    a child's acknowledged push cursor
//	k/ack/, k/up/, k/relay/   where this node's events stand upstream (upstream.go)
//	d/<request id>            a command applied under a request id: its output
//	t/<now ms:8>/<request id> the same, by time, for pruning
const (
	prefixMeta    = "m/"
	prefixFeed    = "f/"
	prefixID      = "i/"
	prefixRecord  = "r/"
	prefixHistory = "h/"
	prefixCounter = "c/"
	prefixHash    = "x/"
	prefixOrigin  = "o/"
	prefixSigner  = "s/"
	prefixQuar    = "q/"
	// prefixQuarFrom: per child (its node id), the ring of the quarantine
	// entries kept of it and the count and summary of those dropped.
	prefixQuarFrom = "Q/"
	prefixHeld     = "p/"
	keyPullCursor  = "k/pull"
	prefixPushCur  = "k/push/"
	prefixDone     = "d/"
	prefixDoneAt   = "t/"

	metaNodeID    = "m/node_id"
	metaEpoch     = "m/epoch"
	metaUnit      = "m/unit"
	metaFeedHead  = "m/feed_head"
	metaSeq       = "m/seq"
	metaHLC       = "m/hlc"
	metaQuar      = "m/quarantined"
	metaHeld      = "m/held"
	metaFeedBytes = "m/feed_bytes"
	metaApplied   = "m/applied"
	// metaAppliedPart: the entry past m/applied partly applied, and how
	// many of its batch's commands are (two big-endian uint64s).
	metaAppliedPart = "m/applied_part"
)

// u64 and beUint64 are the one big-endian encoding of the key space.
func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func beUint64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func feedKey(pos uint64) []byte { return append([]byte(prefixFeed), u64(pos)...) }

func idKey(origin string, seq uint64) []byte {
	return append([]byte(prefixID+origin+"/"), u64(seq)...)
}

func recordKey(key string) []byte { return []byte(prefixRecord + key) }

func historyKey(key string, pos uint64) []byte {
	return append([]byte(prefixHistory+key+"/"), u64(pos)...)
}

func historyPrefix(key string) []byte { return []byte(prefixHistory + key + "/") }

// RecordKind is a record key's kind: the part before its first slash.
func RecordKind(key string) string {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		return key[:i]
	}
	return key
}

func hashKey(h []byte) []byte { return append([]byte(prefixHash), h...) }

func originKey(origin string) []byte { return []byte(prefixOrigin + origin) }

func quarKey(n uint64) []byte { return append([]byte(prefixQuar), u64(n)...) }

func quarCountKey(node string) []byte { return []byte(prefixQuarFrom + node + "/n") }

func quarSummaryKey(node string) []byte { return []byte(prefixQuarFrom + node + "/sum") }

func quarSlotKey(node string, slot uint64) []byte {
	return append([]byte(prefixQuarFrom+node+"/s/"), u64(slot)...)
}

func heldPrefix(prev []byte) []byte {
	return append(append([]byte(prefixHeld), prev...), '/')
}

func heldKey(prev []byte, origin string, seq uint64) []byte {
	return append(append(heldPrefix(prev), origin+"/"...), u64(seq)...)
}

func pushCursorKey(child string) []byte { return []byte(prefixPushCur + child) }
