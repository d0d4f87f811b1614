// Package web is the node's console (工作台): Chinese pages rendered on the
// server from html/template, with the stylesheet and a little script
// embedded in the binary, served at / on the node's own listener. Plain
// forms work without JavaScript; nothing is fetched from another host.
//
// Every page acts as the operator of the browser's session cookie and goes
// through the same authorization table and the same handlers as the API
// (auth.Accounts.Authorize, then rpc.Service): a page is a view of a call.
package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rpc"
	"github.com/jiujin/jiujin/node/rules"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// maxFormBytes bounds a console form.
const maxFormBytes = 64 << 10

// Config is what the console serves.
type Config struct {
	Rules    *rules.Rules
	Service  *rpc.Service
	Accounts *auth.Accounts
	// Links describes the links to the parent (nil or empty: none).
	Links  func() []*pb.LinkStatus
	Logger *slog.Logger
}

// Console is the console's handler.
type Console struct {
	cfg   Config
	pages map[string]*template.Template
	mux   *http.ServeMux
}

// ErrNoPage marks a template that does not exist.
var ErrNoPage = errors.New("没有这个页面模板")

// New builds the console.
func New(cfg Config) (*Console, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Links == nil {
		cfg.Links = func() []*pb.LinkStatus { return nil }
	}
	c := &Console{cfg: cfg, pages: map[string]*template.Template{}, mux: http.NewServeMux()}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	// The layout is parsed once; each page is a clone of it (sharing its
	// parse tree) with the page's own "content".
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	for _, n := range names {
		page := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if page == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFiles, n)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", n, err)
		}
		c.pages[page] = t
	}
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, err
	}
	c.routes(http.StripPrefix("/static/", http.FileServerFS(static)))
	return c, nil
}

// ServeHTTP serves the console.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	w, done := gzipped(w, r)
	defer done()
	c.mux.ServeHTTP(w, r)
}

// request is one page's call: the operator, the page's own data, and what
// every page shows (unit, operator, link).
type request struct {
	w  http.ResponseWriter
	r  *http.Request
	op *auth.Operator
	// token is the session's: the CSRF token is made from it.
	token string
}

// ctx is the request's context with its operator, as the API's handlers
// find it.
func (q *request) ctx() context.Context { return auth.WithOperator(q.r.Context(), q.op) }

// page is a handler of a signed-in operator; procedure is the API call the
// page is a view of, whose access rule it takes. A form it is sent is
// url-encoded, of at most maxFormBytes.
func (c *Console) page(procedure string, h func(q *request) error) http.HandlerFunc {
	return c.serve(procedure, maxFormBytes, false, h)
}

// serve authorizes a page's operator, reads a posted form of at most limit
// bytes (multipart too, if files), checks its CSRF token, and shows the
// handler's error in Chinese.
func (c *Console) serve(procedure string, limit int64, files bool, h func(q *request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		op, err := c.cfg.Accounts.Authorize(procedure, r.Header, r.RemoteAddr)
		if err != nil {
			if connect.CodeOf(err) == connect.CodeUnauthenticated {
				http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.fail(w, r, nil, http.StatusForbidden, err)
			return
		}
		q := &request{w: w, r: r, op: op, token: auth.Token(r.Header)}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			err := errors.ErrUnsupported
			if files {
				err = r.ParseMultipartForm(limit)
				if r.MultipartForm != nil {
					defer r.MultipartForm.RemoveAll()
				}
			}
			if err == errors.ErrUnsupported || errors.Is(err, http.ErrNotMultipart) {
				err = r.ParseForm()
			}
			if err != nil {
				c.fail(w, r, op, http.StatusBadRequest, fmt.Errorf("表单无效或过大（至多 %d KiB）", limit>>10))
				return
			}
			if !c.csrfOK(q) {
				c.fail(w, r, op, http.StatusForbidden, fmt.Errorf("表单已过期或来自别处，请回到上一页刷新后再提交"))
				return
			}
		}
		if err := h(q); err != nil {
			err = rpc.ConnectError(err) // the rules' own errors, as the API answers them
			c.fail(w, r, op, statusOf(err), err)
		}
	}
}

// csrfToken ties a form to the session: a page of another site can neither
// read the cookie nor this token.
func csrfToken(session string) string {
	m := hmac.New(sha256.New, []byte("jiujin console form"))
	m.Write([]byte(session))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

func (c *Console) csrfOK(q *request) bool {
	if o := q.r.Header.Get("Origin"); o != "" && o != "null" && !sameHost(o, q.r.Host) {
		return false
	}
	want := csrfToken(q.token)
	return hmac.Equal([]byte(q.r.PostForm.Get("csrf")), []byte(want))
}

func sameHost(origin, host string) bool {
	_, rest, ok := strings.Cut(origin, "://")
	return ok && rest == host
}

// statusOf is the HTTP status of an API error.
func statusOf(err error) int {
	switch connect.CodeOf(err) {
	case connect.CodeInvalidArgument, connect.CodeFailedPrecondition:
		return http.StatusBadRequest
	case connect.CodeNotFound:
		return http.StatusNotFound
	case connect.CodePermissionDenied:
		return http.StatusForbidden
	case connect.CodeUnauthenticated:
		return http.StatusUnauthorized
	case connect.CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// view is what every page template gets.
type view struct {
	Title    string
	Unit     string
	UnitName string
	Operator *auth.Operator
	Roles    string
	Link     linkView
	CSRF     string
	Data     any
	// Errors by form field, and the message of the whole page.
	Errors map[string]string
	Error  string
	Now    time.Time
}

// render writes a page.
func (c *Console) render(w http.ResponseWriter, q *request, status int, page, title string, data any, errs map[string]string, msg string) {
	t := c.pages[page]
	if t == nil {
		http.Error(w, ErrNoPage.Error()+"："+page, http.StatusInternalServerError)
		return
	}
	v := view{Title: title, Unit: string(c.cfg.Rules.Unit()), UnitName: c.cfg.Rules.UnitName(string(c.cfg.Rules.Unit())),
		Link: c.link(), Data: data, Errors: errs, Error: msg, Now: c.cfg.Rules.Store().Now()}
	if q != nil {
		v.Operator, v.CSRF = q.op, csrfToken(q.token)
		if q.op != nil {
			v.Roles = roleLabels(q.op)
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := t.Execute(w, v); err != nil {
		c.cfg.Logger.Warn("console page", "page", page, "err", err)
	}
}

// fail shows an error page in Chinese.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, op *auth.Operator, status int, err error) {
	msg := err.Error()
	var ce *connect.Error
	if errors.As(err, &ce) {
		msg = ce.Message()
	}
	q := &request{w: w, r: r, op: op, token: auth.Token(r.Header)}
	if op == nil {
		q = nil
	}
	c.render(w, q, status, "error", "出错了", nil, nil, msg)
}

func roleLabels(op *auth.Operator) string {
	if op.Insecure {
		return "全部角色（测试）"
	}
	var ls []string
	for _, r := range op.Roles {
		ls = append(ls, rules.RoleLabel(r))
	}
	return strings.Join(ls, "、")
}
