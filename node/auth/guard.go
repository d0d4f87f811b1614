package auth

import (
	"fmt"
	"log/slog"
	"net/http"

	"connectrpc.com/connect"
)

// Guard serves h only to a caller holding a valid node certificate of
// one of roles (any role when none is given): a call without one is
// refused Unauthenticated, one of another role PermissionDenied, before
// its body is read. The caller's identity travels in the request's
// context (Peer).
func Guard(h http.Handler, b *Bundle, logger *slog.Logger, roles ...Role) http.Handler {
	ew := connect.NewErrorWriter()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := PeerOf(r)
		if ok {
			// A connection made before the certificate was revoked is
			// refused from the revocation's arrival on.
			if err := b.checkRevoked(r.TLS.VerifiedChains[0][0]); err != nil {
				logger.Warn("node-to-node call with a revoked certificate refused", "procedure", r.URL.Path, "remote", r.RemoteAddr, "peer", id.String())
				_ = ew.Write(w, r, connect.NewError(connect.CodePermissionDenied, err))
				return
			}
		}
		if !ok {
			logger.Warn("node-to-node call without a node certificate refused", "procedure", r.URL.Path, "remote", r.RemoteAddr)
			r.Header.Del("Content-Encoding")
			_ = ew.Write(w, r, connect.NewError(connect.CodeUnauthenticated, fmt.Errorf("%w：%s 只接受本县节点证书的调用", ErrNoPeer, r.URL.Path)))
			return
		}
		if len(roles) > 0 && !hasRole(id, roles) {
			logger.Warn("node-to-node call of the wrong role refused", "procedure", r.URL.Path, "remote", r.RemoteAddr, "peer", id.String())
			_ = ew.Write(w, r, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%w：%s 的 %s 证书不能调用 %s", ErrWrongRole, id.Unit, id.Role, r.URL.Path)))
			return
		}
		h.ServeHTTP(w, r.WithContext(WithPeer(r.Context(), id)))
	})
}
