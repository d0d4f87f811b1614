package store

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	badger "github.com/dgraph-io/badger/v4"
	bpb "github.com/dgraph-io/badger/v4/pb"
	"google.golang.org/protobuf/proto"
)

// metaRestored marks a store restored from a backup that has not yet caught
// up with its parent; it accepts nothing new until it has.
const metaRestored = "m/restored"

// Backup writes a full copy of the store as of one instant, in badger's
// backup format (which Restore, RestoreStore and badger's Load read), while
// the node runs. It reads everything in one transaction: badger's own
// DB.Backup splits the keys into ranges and reads each in a transaction of
// its own, so a copy taken while commands apply could pair the counters
// (the applied index, the feed head) of one moment with the records and
// feed of an earlier one, and a member restoring such a snapshot would skip
// entries it never applied.
func (s *Store) Backup(w io.Writer) error {
	if s.cfg.EncryptionKey == nil {
		return s.backup(w)
	}
	sw, err := newSealer(w, s.cfg.EncryptionKey)
	if err != nil {
		return err
	}
	if err := s.backup(sw); err != nil {
		return err
	}
	return sw.Close()
}

func (s *Store) backup(w io.Writer) error {
	return s.view(func(txn *badger.Txn) error {
		bw := bufio.NewWriterSize(w, 256<<10)
		list := &bpb.KVList{}
		size := 0
		flush := func() error {
			if len(list.Kv) == 0 {
				return nil
			}
			b, err := proto.Marshal(list)
			if err != nil {
				return err
			}
			if err := binary.Write(bw, binary.LittleEndian, uint64(len(b))); err != nil {
				return err
			}
			if _, err := bw.Write(b); err != nil {
				return err
			}
			list.Kv, size = list.Kv[:0], 0
			return nil
		}
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			v, err := item.ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("backup %q: %w", item.Key(), err)
			}
			list.Kv = append(list.Kv, &bpb.KV{Key: item.KeyCopy(nil), Value: v, UserMeta: []byte{item.UserMeta()},
				Version: item.Version(), ExpiresAt: item.ExpiresAt()})
			if size += len(v) + len(item.Key()); size >= 1<<20 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
		return bw.Flush()
	})
}

// RestoreBackup loads a backup into an empty directory and gives the node a
// new identity: a new node id, so the events it writes from now on can
// never collide with those its old self wrote after the backup was taken,
// and a new epoch, so its parent resyncs it from scratch instead of
// trusting old cursors. Until its first pull catches up with the parent,
// the restored node accepts no applications (its id counters are behind).
func RestoreBackup(cfg Config, r io.Reader) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	if entries, err := os.ReadDir(cfg.Dir); err == nil && len(entries) > 0 {
		return precondition("data", "数据目录 %s 不为空，请恢复到一个新目录", cfg.Dir)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return err
	}
	// Marked until whole (restoreMark): a node is never started on a
	// directory a restore left half written. One that fails here is
	// emptied again.
	if err := writeMark(cfg.Dir, restoreMark, ""); err != nil {
		return fmt.Errorf("mark data directory restoring: %w", err)
	}
	err := loadBackup(cfg, r)
	if err != nil {
		if cerr := clearStoreFiles(cfg.Dir); cerr != nil {
			return fmt.Errorf("%w (and emptying %s again: %v)", err, cfg.Dir, cerr)
		}
		return err
	}
	if err := removeMark(cfg.Dir, restoreMark); err != nil {
		return fmt.Errorf("mark data directory restored: %w", err)
	}
	return nil
}

// loadBackup loads a backup into an empty directory and gives the data a
// new identity.
func loadBackup(cfg Config, r io.Reader) error {
	plain, err := unsealed(r, cfg.EncryptionKey)
	if err != nil {
		return invalid("backup", "%v", err)
	}
	db, err := openBadger(cfg, badgerOptions(cfg.Dir, true, cfg.Member))
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Load(plain, 64); err != nil {
		return invalid("backup", "备份文件不完整或已损坏，未能载入（%v）：请用完整的备份再恢复", err)
	}
	if err := dropAckLogs(db); err != nil {
		return fmt.Errorf("restore: forget the ack logs: %w", err)
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
