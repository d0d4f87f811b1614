package store_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jiujin/jiujin/node/store"
)

// TestAutomaticActorsNameTheNode: what a node does by itself reads
// 系统（节点 …）, also for events an earlier release stored as "sync"; an
// operator keeps their name, even one named like the system.
func TestAutomaticActorsNameTheNode(t *testing.T) {
	require.Equal(t, "系统（节点 n1）", store.SystemActorOf("n1"))
	for _, old := range []string{"sync", "系统", "系统自动接收", "并联办理汇总"} {
		require.Equal(t, "系统（节点 n1）", store.DisplayActor(old, "", "n1"), old)
	}
	require.Equal(t, "刘芳", store.DisplayActor("刘芳", "liufang", "n1"))
	require.Equal(t, "系统", store.DisplayActor("系统", "xitong", "n1"), "an operator's own name")
}
