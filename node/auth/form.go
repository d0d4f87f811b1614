package auth

import (
	"errors"
	"net/http"
	"strings"
	"time"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// maxFormBytes bounds a login form.
const maxFormBytes = 4 << 10

// FormLogin is the console's POST /login: form fields login, password,
// otp (admin and auditor) and new_password (when an administrator set the
// password). A good login sets the session cookie (HttpOnly,
// SameSite=Strict, Secure over TLS) and sends the browser to the form's
// "next" path (default /); a refused one answers 401 (or 400 for a
// password that must change or is unfit) with the reason as plain text,
// for the console to show next to the field.
func (a *Accounts) FormLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "只接受 POST", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "表单无效或过大", http.StatusBadRequest)
		return
	}
	req := &pb.LoginRequest{Login: strings.TrimSpace(r.PostForm.Get("login")), Password: r.PostForm.Get("password"),
		Otp: strings.TrimSpace(r.PostForm.Get("otp")), NewPassword: r.PostForm.Get("new_password")}
	res, err := a.Login(r.Context(), req, r.RemoteAddr)
	if err != nil {
		status := http.StatusUnauthorized
		if errors.Is(err, ErrPasswordChange) || errors.Is(err, ErrBadPassword) || errors.Is(err, ErrOTPRequired) {
			status = http.StatusBadRequest
		}
		http.Error(w, err.Error(), status)
		return
	}
	SetSessionCookie(w, r, res, a.cfg.Rules.Store().Now())
	http.Redirect(w, r, SafeNext(r.PostForm.Get("next")), http.StatusSeeOther)
}

// SetSessionCookie gives the browser its session: HttpOnly, SameSite=Strict,
// Secure over TLS, ending when the session does at the latest. Its life is
// given as Max-Age, counted from now on the node's clock, so that a browser
// whose clock is off keeps it as long.
func SetSessionCookie(w http.ResponseWriter, r *http.Request, res *pb.LoginResponse, now time.Time) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: res.GetToken(), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: max(1, int(res.GetExpiresAt().AsTime().Sub(now).Seconds()))})
}

// FormLogout is the console's POST /logout: the session ends, the cookie
// goes.
func (a *Accounts) FormLogout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "只接受 POST", http.StatusMethodNotAllowed)
		return
	}
	a.Logout(Token(r.Header))
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, Expires: time.Unix(1, 0), MaxAge: -1})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// SafeNext is a local path to go to after a login: never another site.
func SafeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	return next
}
