package node

import (
	"fmt"
	"net/http"
	"time"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
)

// maxBackupTime bounds how long an online backup may take to send.
const maxBackupTime = time.Hour

// backupHandler is GET /backup: an online backup of the node's store for
// an administrator, the same bytes `node backup` makes of a stopped node
// (as of one instant, sealed when the store is encrypted). It is recorded
// in the audit trail before any data leaves the node.
func (n *Node) backupHandler(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "只接受 GET", http.StatusMethodNotAllowed)
		return
	}
	op, err := n.accounts.Authenticate(auth.Token(r.Header), r.RemoteAddr)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if !op.Has(rules.RoleAdmin) {
		http.Error(w, fmt.Sprintf("%v: 在线备份需要管理员角色，%s 没有", auth.ErrForbidden, op.Login), http.StatusForbidden)
		return
	}
	cmd := &pb.Command{NowMs: n.Store.Now().UnixMilli(), Actor: op.Name, ActorLogin: op.Login, Source: op.Source,
		Op: &pb.Command_BackupTaken{BackupTaken: &pb.BackupTaken{NodeId: n.Store.NodeID(), FeedHead: n.Store.FeedHead()}}}
	if _, err := n.write(r.Context(), cmd); err != nil {
		http.Error(w, "备份未开始："+err.Error(), http.StatusServiceUnavailable)
		return
	}
	// A store of some GiB takes longer than a request may.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(maxBackupTime))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="jiujin-%s-%s.bak"`, n.cfg.Unit, n.Store.Now().Format("20060102-1504")))
	n.cfg.Logger.Info("online backup", "login", op.Login, "source", op.Source)
	if err := n.Store.Backup(w); err != nil {
		n.cfg.Logger.Error("online backup failed", "err", err)
		// The status is sent: cut the connection, so the client sees a
		// broken transfer rather than a short file.
		panic(http.ErrAbortHandler)
	}
}
