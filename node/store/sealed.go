package store

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A store kept encrypted (Config.EncryptionKey) writes its backups and
// snapshots sealed: a header, then chunks of AES-256-GCM under a key
// derived from the store's key, each chunk's nonce its number, the last
// chunk marked, so that a backup cut short is found, not loaded half.
const (
	sealMagic     = "JJSEAL1\n"
	sealChunk     = 64 << 10
	sealLastFlag  = 1 << 31
	sealNonceBase = 8
)

// ErrNoKey: a sealed backup, and no key to open it.
var ErrNoKey = errors.New("备份已加密：请用 --encryption-key-file 指定数据加密密钥")

func backupAEAD(key []byte) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, key, nil, "jiujin backup v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealer is the writer of a sealed stream.
type sealer struct {
	w     io.Writer
	aead  cipher.AEAD
	base  [sealNonceBase]byte
	n     uint32
	buf   []byte
	wrote bool
}

func newSealer(w io.Writer, key []byte) (*sealer, error) {
	aead, err := backupAEAD(key)
	if err != nil {
		return nil, err
	}
	s := &sealer{w: w, aead: aead, buf: make([]byte, 0, sealChunk)}
	if _, err := rand.Read(s.base[:]); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *sealer) nonce(n uint32) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	copy(nonce, s.base[:])
	binary.BigEndian.PutUint32(nonce[sealNonceBase:], n)
	return nonce
}

func (s *sealer) header() error {
	if s.wrote {
		return nil
	}
	s.wrote = true
	_, err := s.w.Write(append([]byte(sealMagic), s.base[:]...))
	return err
}

func (s *sealer) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		k := min(len(p), sealChunk-len(s.buf))
		s.buf = append(s.buf, p[:k]...)
		p = p[k:]
		if len(s.buf) == sealChunk {
			if err := s.flush(false); err != nil {
				return 0, err
			}
		}
	}
	return total, nil
}

func (s *sealer) flush(last bool) error {
	if err := s.header(); err != nil {
		return err
	}
	ad := make([]byte, 4)
	length := uint32(len(s.buf))
	if last {
		length |= sealLastFlag
	}
	binary.BigEndian.PutUint32(ad, length)
	ct := s.aead.Seal(nil, s.nonce(s.n), s.buf, ad)
	s.n++
	s.buf = s.buf[:0]
	if _, err := s.w.Write(ad); err != nil {
		return err
	}
	_, err := s.w.Write(ct)
	return err
}

// Close writes the last chunk.
func (s *sealer) Close() error { return s.flush(true) }

// unsealed reads a backup: a sealed one through key, a plain one as it is.
// A sealed backup and no key, or a key and a plain backup, are refused.
func unsealed(r io.Reader, key []byte) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	head, err := br.Peek(len(sealMagic))
	sealed := err == nil && bytes.Equal(head, []byte(sealMagic))
	switch {
	case sealed && key == nil:
		return nil, ErrNoKey
	case !sealed && key != nil:
		return nil, errors.New("备份未加密，而数据目录要求加密：请用加密节点的备份")
	case !sealed:
		return br, nil
	}
	aead, err := backupAEAD(key)
	if err != nil {
		return nil, err
	}
	hdr := make([]byte, len(sealMagic)+sealNonceBase)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, fmt.Errorf("sealed backup header: %w", err)
	}
	u := &unsealer{r: br, sealer: sealer{aead: aead}}
	copy(u.base[:], hdr[len(sealMagic):])
	return u, nil
}

type unsealer struct {
	sealer
	r    io.Reader
	out  []byte
	done bool
}

func (u *unsealer) Read(p []byte) (int, error) {
	for len(u.out) == 0 {
		if u.done {
			return 0, io.EOF
		}
		ad := make([]byte, 4)
		if _, err := io.ReadFull(u.r, ad); err != nil {
			return 0, fmt.Errorf("备份不完整（第 %d 块）：%w", u.n, io.ErrUnexpectedEOF)
		}
		length := binary.BigEndian.Uint32(ad)
		last := length&sealLastFlag != 0
		size := int(length &^ sealLastFlag)
		if size > sealChunk {
			return 0, fmt.Errorf("备份已损坏（第 %d 块长 %d）", u.n, size)
		}
		ct := make([]byte, size+u.aead.Overhead())
		if _, err := io.ReadFull(u.r, ct); err != nil {
			return 0, fmt.Errorf("备份不完整（第 %d 块）：%w", u.n, io.ErrUnexpectedEOF)
		}
		pt, err := u.aead.Open(nil, u.nonce(u.n), ct, ad)
		if err != nil {
			return 0, fmt.Errorf("备份无法解密（第 %d 块）：密钥不对，或文件已损坏", u.n)
		}
		u.n++
		u.out, u.done = pt, last
	}
	k := copy(p, u.out)
	u.out = u.out[k:]
	return k, nil
}
