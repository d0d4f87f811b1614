package rpc

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// TestRequestDigestsLeavePasswordsOut: what is kept of a request under an
// idempotency key holds no password, and two requests that differ only
// in a password digest alike.
func TestRequestDigestsLeavePasswordsOut(t *testing.T) {
	for name, m := range map[string]proto.Message{
		"add":       &pb.AddAccountRequest{Login: "zhangli", Password: "Secret-1"},
		"reset":     &pb.UpdateAccountRequest{Login: "zhangli", ResetPassword: "Secret-1"},
		"bootstrap": &pb.BootstrapRequest{Login: "admin", Password: "Secret-1"},
		"login":     &pb.LoginRequest{Login: "zhangli", Password: "Secret-1", NewPassword: "Secret-2"},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := proto.Marshal(withoutSecrets(m))
			require.NoError(t, err)
			require.NotContains(t, string(b), "Secret-")
			login := m.ProtoReflect().Get(m.ProtoReflect().Descriptor().Fields().ByName("login")).String()
			require.Contains(t, string(b), login, "the rest of the request is kept")
		})
	}
	accept := &pb.AcceptApplicationRequest{MatterCode: "MZ-005"}
	require.Same(t, proto.Message(accept), withoutSecrets(accept), "nothing to leave out: no copy")
}
