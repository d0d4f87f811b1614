package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
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
	// CheckCertificate verifies that der may sign events at all.
	CheckCertificate(der []byte) error
}

// Fingerprint is a certificate's SHA-256.
func Fingerprint(der []byte) []byte {
	h := sha256.Sum256(der)
	return h[:]
}

func signerKey(fp []byte) []byte { return []byte(prefixSigner + hex.EncodeToString(fp)) }

// sign signs an event the node writes. The certificate that signs is
// kept with the first event it signs, so that after a renewal the events
// of the old one can still be sent with their certificate.
func (w *Tx) sign(ev *pb.Event) {
	sg := w.s.cfg.Signing
	if sg == nil {
		return
	}
	ev.SigAlg, ev.Signer, ev.Signature = sg.Sign(ev.GetHash())
	if _, kept := w.s.certs.m.Load(string(ev.GetSigner())); !kept {
		fp, der := sg.Certificate()
		if string(fp) == string(ev.GetSigner()) {
			w.Set(signerKey(fp), der)
			w.s.certs.m.Store(string(fp), der)
		}
	}
}

// certs are the certificates a store knows, by fingerprint: they never
// change, so what was read once is kept.
type certs struct{ m sync.Map }

// checkSignatures is, for each event of a received batch, why its
// signature is not good ("" when it is): none, by a certificate neither
// known here nor sent with the batch, or refused by Signing. The
// signatures are checked in parallel, one worker a core: they are most
// of what a relay spends on an event.
func (w *Tx) checkSignatures(in *pb.Ingest) ([]string, error) {
	sg := w.s.cfg.Signing
	events := in.GetEvents()
	if sg == nil || len(events) == 0 {
		return nil, nil
	}
	batch := map[string][]byte{}
	for _, der := range in.GetCertificates() {
		batch[string(Fingerprint(der))] = der
	}
	reasons := make([]string, len(events))
	ders := make([][]byte, len(events))
	for i, ev := range events {
		fp := ev.GetSigner()
		if len(ev.GetSignature()) == 0 || len(fp) == 0 {
			reasons[i] = "event.signature: 事件未签名"
			continue
		}
		der, ok := batch[string(fp)]
		if !ok {
			var err error
			if der, err = w.signer(fp); err != nil {
				return nil, err
			}
		}
		if der == nil {
			reasons[i] = fmt.Sprintf("event.signer: 签名证书 %x 未知（发送方未附上）", fp[:min(8, len(fp))])
			continue
		}
		ders[i] = der
	}
	check := func(i int) {
		if ders[i] != nil {
			if err := sg.Check(events[i], ders[i]); err != nil {
				reasons[i] = "event.signature: " + err.Error()
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(events))
	if workers <= 1 {
		for i := range events {
			check(i)
		}
	} else {
		var wg sync.WaitGroup
		for k := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := k; i < len(events); i += workers {
					check(i)
				}
			}()
		}
		wg.Wait()
	}
	// Every good certificate sent is kept, whatever became of the events:
	// the sender counts on it from now on.
	for fp, der := range batch {
		if known, err := w.signer([]byte(fp)); err != nil {
			return nil, err
		} else if known == nil && sg.CheckCertificate(der) == nil {
			w.Set(signerKey([]byte(fp)), der)
			w.s.certs.m.Store(fp, der)
		}
	}
	return reasons, nil
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
