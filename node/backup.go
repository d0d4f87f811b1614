package node

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	badger "github.com/dgraph-io/badger/v4"
)

// metaRestored marks a store restored from a backup that has not yet caught
// up with its parent; it accepts nothing new until it has.
const metaRestored = "m/restored"

// Backup writes a full, consistent copy of the store (badger's backup
// format) while the node runs.
func (s *Store) Backup(w io.Writer) error {
	if err := s.view(func(*badger.Txn) error { return nil }); err != nil {
		return err
	}
	s.restoring.RLock()
	defer s.restoring.RUnlock()
	_, err := s.db.Backup(w, 0)
	return err
}

// RestoreStore loads a backup into an empty directory and gives the node a
// new identity: a new node id, so the events it writes from now on can
// never collide with those its old self wrote after the backup was taken,
// and a new epoch, so its parent resyncs it from scratch instead of
// trusting old cursors. Until its first pull catches up with the parent,
// the restored node accepts no applications (its id counters are behind).
func RestoreStore(cfg StoreConfig, r io.Reader) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	if entries, err := os.ReadDir(cfg.Dir); err == nil && len(entries) > 0 {
		return precondition("data", "数据目录 %s 不为空，请恢复到一个新目录", cfg.Dir)
	}
	db, err := badger.Open(badgerOptions(cfg.Dir, true))
	if err != nil {
		return fmt.Errorf("open badger at %s: %w", cfg.Dir, err)
	}
	defer db.Close()
	if err := db.Load(r, 64); err != nil {
		return fmt.Errorf("load backup: %w", err)
	}
	return db.Update(func(txn *badger.Txn) error {
		it, err := txn.Get([]byte(metaUnit))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return invalid("backup", "备份中没有节点数据")
		}
		if err != nil {
			return err
		}
		unit, err := it.ValueCopy(nil)
		if err != nil {
			return err
		}
		if string(unit) != string(cfg.Unit) {
			return precondition("unit", "备份属于单位 %s，不能恢复为 %s", unit, cfg.Unit)
		}
		for _, kv := range [][2][]byte{
			{[]byte(metaNodeID), []byte(hex.EncodeToString(randomBytes(8)))},
			{[]byte(metaEpoch), randomBytes(8)},
			{[]byte(metaRestored), {1}},
		} {
			if err := txn.Set(kv[0], kv[1]); err != nil {
				return err
			}
		}
		return nil
	})
}
