package auth

import (
	"crypto/ed25519"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/store"
)

// signedEvent is an event of unit, signed by b.
func signedEvent(t testing.TB, b *Bundle, unit string) (*Signing, *pb.Event) {
	sg, err := NewSigning(b)
	require.NoError(t, err)
	ev := &pb.Event{Origin: "a1", Seq: 1, Kind: "app.accepted", RecordKey: "app/x", Unit: unit,
		Hlc: uint64(now.UnixMilli()) << 16, Payload: []byte("payload")}
	ev.Hash = store.EventHash(ev)
	ev.SigAlg, ev.Signer, ev.Signature = sg.Sign(ev.Hash)
	return sg, ev
}

func TestCheckSignature(t *testing.T) {
	ca := newCA(t, "330324")
	town := issue(t, ca, "330324101", RoleNode)
	sg, ev := signedEvent(t, town, "330324101")
	require.NoError(t, sg.Check(ev, town.Leaf.Raw))

	monitor := issue(t, ca, "330324", RoleMonitor)
	_, byMonitor := signedEvent(t, monitor, "330324")
	stranger := issue(t, newCA(t, "330324"), "330324101", RoleNode)
	_, byStranger := signedEvent(t, stranger, "330324101")
	for name, tc := range map[string]struct {
		ev   func() *pb.Event
		der  []byte
		want string
	}{
		"another algorithm": {func() *pb.Event { e := clone(ev); e.SigAlg = "sm2"; return e }, town.Leaf.Raw, "未知的签名算法"},
		"another unit":      {func() *pb.Event { e := clone(ev); e.Unit = "330324102"; return e }, town.Leaf.Raw, "属于单位 330324101"},
		"a flipped bit": {func() *pb.Event {
			e := clone(ev)
			e.Signature[0] ^= 1
			return e
		}, town.Leaf.Raw, "签名无效"},
		"another hash": {func() *pb.Event { e := clone(ev); e.Hash = make([]byte, 32); return e }, town.Leaf.Raw, "签名无效"},
		"after expiry": {func() *pb.Event {
			e := clone(ev)
			e.Hlc = uint64(town.Leaf.NotAfter.UnixMilli()+1) << 16
			return e
		}, town.Leaf.Raw, "过期"},
		"a monitor's certificate":  {func() *pb.Event { return byMonitor }, monitor.Leaf.Raw, "不能签署事件"},
		"another CA's certificate": {func() *pb.Event { return byStranger }, stranger.Leaf.Raw, "不是本县证书颁发机构签发"},
		"junk":                     {func() *pb.Event { return clone(ev) }, []byte("junk"), "无法解析"},
	} {
		t.Run(name, func(t *testing.T) {
			require.ErrorContains(t, sg.Check(tc.ev(), tc.der), tc.want)
		})
	}
}

func clone(ev *pb.Event) *pb.Event {
	return proto.Clone(ev).(*pb.Event)
}

// FuzzCheckSignature: no event and certificate make Check panic, and
// Check passes only a signature the county's certificate holder made
// over the event's hash.
func FuzzCheckSignature(f *testing.F) {
	ca := newCA(f, "330324")
	town := issue(f, ca, "330324101", RoleNode)
	sg, ev := signedEvent(f, town, "330324101")
	pub := town.Leaf.PublicKey.(ed25519.PublicKey)
	f.Add(ev.GetSigAlg(), ev.GetUnit(), ev.GetHash(), ev.GetSignature(), ev.GetHlc(), town.Leaf.Raw)
	f.Add("ed25519", "330324101", []byte{}, []byte{}, uint64(0), []byte{})
	f.Add("ed25519", "330324", ev.GetHash(), ev.GetSignature(), ev.GetHlc(), ca.Cert.Raw)
	f.Fuzz(func(t *testing.T, alg, unit string, hash, sig []byte, hlc uint64, der []byte) {
		e := &pb.Event{SigAlg: alg, Unit: unit, Hash: hash, Signature: sig, Hlc: hlc}
		if sg.Check(e, der) != nil {
			return
		}
		require.Equal(t, town.Leaf.Raw, der, "only the CA's node certificate signs")
		require.True(t, ed25519.Verify(pub, hash, sig))
		require.Equal(t, "330324101", unit)
	})
}

// BenchmarkSignEvent and BenchmarkCheckEvent are what signatures cost
// each event: once where it is written, once at every node it reaches.
func BenchmarkSignEvent(b *testing.B) {
	ca := newCA(b, "330324")
	sg, ev := signedEvent(b, issue(b, ca, "330324101", RoleNode), "330324101")
	for b.Loop() {
		sg.Sign(ev.GetHash())
	}
}

func BenchmarkCheckEvent(b *testing.B) {
	ca := newCA(b, "330324")
	town := issue(b, ca, "330324101", RoleNode)
	sg, ev := signedEvent(b, town, "330324101")
	for b.Loop() {
		if err := sg.Check(ev, town.Leaf.Raw); err != nil {
			b.Fatal(err)
		}
	}
}
