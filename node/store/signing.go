package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/dgraph-io/badger/v4"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// Signing signs the events a node writes and checks the signatures of the
// events it receives. The store knows no certificate: it keeps the ones
// senders give it (by fingerprint, the SHA-256 of the DER) and asks
// Signing whether one may sign an event. A store without Signing (an
// insecure node) writes unsigned events and checks none.
type Signing interface {
	// Sign signs an event's hash: the algorithm, the fingerprint of the
	// certificate that checks the signature, and the signature.
	Sign(hash []byte) (alg string, signer, sig []byte)
	// Certificate is the node's own certificate (DER) and its fingerprint.
	Certificate() (fp, der []byte)
	// Check verifies that der is a certificate that may sign ev (of the
	// county, for ev's unit, in force at ev's time) and that ev's
	// signature is its own; the error names what is wrong.
	Check(ev *pb.Event, der []byte) error
}

// Fingerprint is a certificate's SHA-256.
func Fingerprint(der []byte) []byte {
	h := sha256.Sum256(der)
	return h[:]
}

func signerKey(fp []byte) []byte { return []byte(prefixSigner + hex.EncodeToString(fp)) }

// sign signs an event the node writes.
func (s *Store) sign(ev *pb.Event) {
	if s.cfg.Signing != nil {
		ev.SigAlg, ev.Signer, ev.Signature = s.cfg.Signing.Sign(ev.GetHash())
	}
}

// certs are the certificates a store knows, by fingerprint: they never
// change, so what was read once is kept.
type certs struct{ m sync.Map }

// checkSignature is why a received event's signature is not good (""
// when it is): none, by an unknown certificate, or refused by Signing. A
// certificate that came with the batch and signed a good event is kept.
func (w *Tx) checkSignature(in *pb.Ingest, ev *pb.Event) (string, error) {
	sg := w.s.cfg.Signing
	if sg == nil {
		return "", nil
	}
	if len(ev.GetSignature()) == 0 || len(ev.GetSigner()) == 0 {
		return "event.signature: 事件未签名", nil
	}
	if w.batchCerts == nil {
		w.batchCerts = map[string][]byte{}
		for _, der := range in.GetCertificates() {
			w.batchCerts[string(Fingerprint(der))] = der
		}
	}
	der, fromBatch := w.batchCerts[string(ev.GetSigner())]
	if !fromBatch {
		var err error
		if der, err = w.signer(ev.GetSigner()); err != nil {
			return "", err
		}
	}
	if der == nil {
		return fmt.Sprintf("event.signer: 签名证书 %x 未知（发送方未附上）", ev.GetSigner()[:8]), nil
	}
	if err := sg.Check(ev, der); err != nil {
		return "event.signature: " + err.Error(), nil
	}
	if fromBatch {
		if known, err := w.signer(ev.GetSigner()); err != nil {
			return "", err
		} else if known == nil {
			w.Set(signerKey(ev.GetSigner()), der)
			w.s.certs.m.Store(string(ev.GetSigner()), der)
		}
	}
	return "", nil
}

// signer is a known certificate by fingerprint (nil: none).
func (w *Tx) signer(fp []byte) ([]byte, error) {
	if der, ok := w.s.certs.m.Load(string(fp)); ok {
		return der.([]byte), nil
	}
	if own, der := w.s.ownCertificate(); own != nil && string(own) == string(fp) {
		return der, nil
	}
	return w.Get(signerKey(fp))
}

func (s *Store) ownCertificate() (fp, der []byte) {
	if s.cfg.Signing == nil {
		return nil, nil
	}
	return s.cfg.Signing.Certificate()
}

// Certificates are the certificates of the events' signers, once each,
// for a batch sent to another node. A signer this store does not know is
// left out (the receiver then quarantines its events as unknown).
func (s *Store) Certificates(events []*pb.Event) ([][]byte, error) {
	if s.cfg.Signing == nil {
		return nil, nil
	}
	ownFP, ownDER := s.ownCertificate()
	seen := map[string]bool{}
	var out [][]byte
	var missing [][]byte
	for _, ev := range events {
		fp := ev.GetSigner()
		if len(fp) == 0 || seen[string(fp)] {
			continue
		}
		seen[string(fp)] = true
		switch der, ok := s.certs.m.Load(string(fp)); {
		case string(fp) == string(ownFP):
			out = append(out, ownDER)
		case ok:
			out = append(out, der.([]byte))
		default:
			missing = append(missing, fp)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	err := s.view(func(txn *badger.Txn) error {
		for _, fp := range missing {
			item, err := txn.Get(signerKey(fp))
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			der, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			s.certs.m.Store(string(fp), der)
			out = append(out, der)
		}
		return nil
	})
	return out, err
}
