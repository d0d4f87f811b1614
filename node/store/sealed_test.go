package store_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

// TestAnEncryptedStoreKeepsNamesOffTheDisk: with a key, what the store
// writes holds no applicant's name in clear, its backup is sealed, and
// neither opens without the key.
func TestAnEncryptedStoreKeepsNamesOffTheDisk(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	dir := t.TempDir()
	open := func(k []byte) (*store.Store, error) {
		return OpenStore(StoreConfig{Dir: dir, Unit: county, Calendar: seedCalendar(t), Key: k})
	}
	st, err := open(key)
	require.NoError(t, err)
	_, err = st.Apply(context.Background(), &pb.Command{NowMs: at("2026-11-23", 9).UnixMilli(), Op: &pb.Command_ImportCatalog{ImportCatalog: seedCatalog(t)}})
	require.NoError(t, err)
	_, err = st.Apply(context.Background(), acceptCmd(10))
	require.NoError(t, err)
	var backup bytes.Buffer
	require.NoError(t, st.Backup(&backup))
	require.NoError(t, st.Close())

	name := []byte("王秀英")
	require.NoError(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		require.NoError(t, err)
		if fi.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		require.False(t, bytes.Contains(b, name), "%s holds a name in clear", p)
		return nil
	}))
	require.False(t, bytes.Contains(backup.Bytes(), name), "the backup is sealed")

	_, err = open(nil)
	require.ErrorContains(t, err, "encryption-key-file")
	_, err = open(bytes.Repeat([]byte{8}, 32))
	require.ErrorContains(t, err, "encryption-key-file")

	restoreTo := func(k []byte, b []byte) error {
		return store.RestoreBackup(store.Config{Dir: filepath.Join(t.TempDir(), "r"), Unit: tiers.Unit(county), EncryptionKey: k}, bytes.NewReader(b))
	}
	require.ErrorContains(t, restoreTo(nil, backup.Bytes()), store.ErrNoKey.Error())
	require.ErrorContains(t, restoreTo(bytes.Repeat([]byte{8}, 32), backup.Bytes()), "密钥不对")
	require.ErrorContains(t, restoreTo(key, backup.Bytes()[:backup.Len()-100]), "不完整")
	rdir := filepath.Join(t.TempDir(), "r")
	require.NoError(t, store.RestoreBackup(store.Config{Dir: rdir, Unit: tiers.Unit(county), EncryptionKey: key}, bytes.NewReader(backup.Bytes())))
	back, err := OpenStore(StoreConfig{Dir: rdir, Unit: county, Calendar: seedCalendar(t), Key: key})
	require.NoError(t, err)
	defer back.Close()
	rep, err := back.Verify()
	require.NoError(t, err)
	require.NotZero(t, rep.Records)
}
