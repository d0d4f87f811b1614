package sync

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"connectrpc.com/connect"
)

// Explain puts a link's error in words a village worker reads: what
// happened, in Chinese, then the technical detail, e.g.
//
//	无法连接上级节点（连接被拒绝）：push cursor: unavailable: dial tcp 10.0.0.1:8443: connect: connection refused
//
// Every phrase of the link's errors is here, in one place.
func Explain(err error) string {
	if err == nil {
		return ""
	}
	return Headline(err) + "：" + err.Error()
}

// Headline is Explain's Chinese part alone.
func Headline(err error) string {
	if why := netReason(err); why != "" {
		return "无法连接上级节点（" + why + "）"
	}
	switch {
	case errors.Is(err, errNotParent):
		return "对方不是本单位的上级节点（请检查 --parent 地址）"
	case errors.Is(err, errLocal):
		return "本节点读写自己的数据出错（请检查磁盘）"
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return "与上级同步出错"
	}
	if Throttled(err) {
		return "上级节点限流（本节点调用过于频繁，稍后重试）"
	}
	if why, ok := codeReasons[ce.Code()]; ok {
		return why
	}
	return "与上级同步出错（" + ce.Code().String() + "）"
}

// Throttled reports whether the parent refused a call for the caller's
// rate, not for what it sent: a ResourceExhausted answer that says when to
// come back (Retry-After). Its batch is not halved.
func Throttled(err error) bool {
	var ce *connect.Error
	return errors.As(err, &ce) && ce.Code() == connect.CodeResourceExhausted && ce.Meta().Get("Retry-After") != ""
}

// codeReasons: what the parent's answer, by its connect code, means to
// the child.
var codeReasons = map[connect.Code]string{
	connect.CodeUnavailable:        "上级节点暂不可用",
	connect.CodeDeadlineExceeded:   "上级节点响应超时",
	connect.CodeCanceled:           "同步已取消",
	connect.CodePermissionDenied:   "上级节点拒绝了本节点（证书或单位不符）",
	connect.CodeUnauthenticated:    "上级节点不认可本节点的证书",
	connect.CodeFailedPrecondition: "上级节点拒绝了这一批（前提不满足，将重新询问进度）",
	connect.CodeResourceExhausted:  "一批事件过大（已减半重试）",
	connect.CodeInvalidArgument:    "上级节点认为请求有误",
	connect.CodeUnimplemented:      "上级节点的版本不支持此同步",
	connect.CodeInternal:           "上级节点内部出错",
	connect.CodeUnknown:            "上级节点出错",
	connect.CodeDataLoss:           "上级节点发现数据损坏",
	connect.CodeAborted:            "同步被中止（将重试）",
}

// netReason names, in Chinese, why a connection to the parent failed
// ("": not a connection failure).
func netReason(err error) string {
	var dns *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var invalidCert x509.CertificateInvalidError
	var hostname x509.HostnameError
	var alert tls.AlertError
	var recordHeader tls.RecordHeaderError
	var netErr net.Error
	switch {
	case errors.Is(err, ErrLinkCut):
		return "链路中断"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "连接被拒绝：上级节点未运行或端口不对"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "连接被重置"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "主机不可达"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.ENETDOWN):
		return "网络不可达：请检查本机网络"
	case errors.As(err, &dns):
		return "域名解析失败"
	case errors.As(err, &unknownCA), errors.As(err, &invalidCert):
		return "上级节点的证书无法验证"
	case errors.As(err, &hostname):
		return "上级节点的证书与地址不符"
	case errors.As(err, &alert):
		return "上级节点拒绝了本节点的证书"
	case errors.As(err, &recordHeader):
		return "对方不是 TLS 节点（请检查 http/https）"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "连接超时"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "连接超时"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "连接被意外关闭"
	}
	return ""
}

// errNotParent marks an answer from a node of another unit than this
// one's parent; errLocal a failure of this node's own store.
var (
	errNotParent = errors.New("not this unit's parent")
	errLocal     = errors.New("local store")
)
