package app

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/ratelimit"
)

// This file holds the handlers that check a password: login, the
// re-authentication asked for before sessions are ended, and the password
// change. Each one is throttled per account and per client IP before the
// hash runs.

// clientIP is the peer's address. The demo is served directly; behind a
// reverse proxy use the address the proxy reports (session.Config's
// TrustedProxies does that for the session records), or every client would
// share the proxy's limit.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// throttle counts one password check for account from r's client and
// returns zero when it may go ahead, or how long the client has to wait.
// The per-IP limit is checked first, so attempts refused for the IP do not
// use up the account's allowance (an attacker blocked by address cannot
// keep the owner locked out for free). A refusal reports the longer of the
// two waits, so a client that honours Retry-After is not refused again.
func (a *App) throttle(r *http.Request, account string) time.Duration {
	now := a.now()
	ip := ratelimit.IPKey(clientIP(r))
	if ok, wait := a.perIP.Allow(ip, now); !ok {
		return max(wait, a.perAccount.Wait(account, now))
	}
	if ok, wait := a.perAccount.Allow(account, now); !ok {
		return max(wait, a.perIP.Wait(ip, now))
	}
	return 0
}

// sessionAccount is the throttling key of a password check made from a
// logged-in session (re-authentication, password change): the session, not
// the account name. Otherwise anyone who knows the account name could spend
// its allowance with wrong logins and lock the owner out of the very check
// that lets them end a thief's session; a thief holding a stolen cookie
// spends only that session's allowance (and their address's).
func sessionAccount(s *session.Session) string { return "session " + s.Handle() }

// tooMany answers a throttled password check: 429 with Retry-After (whole
// seconds, rounded up) and the page the form was on.
func (a *App) tooMany(w http.ResponseWriter, r *http.Request, wait time.Duration, page string, data *pageData) {
	secs := int64((wait + time.Second - 1) / time.Second)
	a.logger.WarnContext(r.Context(), "webapp: password attempts throttled",
		"path", r.URL.Path, "ip", clientIP(r), "retry_after_s", secs)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	data.Error = "Too many password attempts. Try again in " + waitText(secs) + "."
	a.render(w, r, http.StatusTooManyRequests, page, data)
}

func waitText(secs int64) string {
	if secs < 60 {
		return plural(int(secs), "second")
	}
	return plural(int((secs+59)/60), "minute")
}

func (a *App) login(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("username"))
	password := r.PostFormValue("password")
	if wait := a.throttle(r, name); wait > 0 {
		a.tooMany(w, r, wait, "login", &pageData{Title: "Log in", Username: name})
		return
	}
	if name == "" || !a.users.check(name, password) {
		// One message for an unknown user and a wrong password.
		a.render(w, r, http.StatusUnauthorized, "login", &pageData{
			Title: "Log in", Error: "Invalid username or password.", Username: name,
		})
		return
	}
	s := session.FromContext(r.Context())
	var opts []session.LoginOption
	if r.PostFormValue("remember") == "on" {
		opts = append(opts, session.Remember())
	}
	if err := s.Login(r.Context(), name, opts...); err != nil {
		a.serverError(w, r, err)
		return
	}
	redirect(w, r, "/profile")
}

// askReauth is where RequireRecentAuth sends a request to end sessions when
// the password was not entered recently.
func (a *App) askReauth(w http.ResponseWriter, r *http.Request) {
	flash(r, "Enter your password again to log out other sessions.")
	redirect(w, r, "/reauth")
}

func (a *App) reauthPage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "reauth", &pageData{Title: "Confirm your password"})
}

func (a *App) reauth(w http.ResponseWriter, r *http.Request) {
	s := session.FromContext(r.Context())
	data := &pageData{Title: "Confirm your password"}
	if wait := a.throttle(r, sessionAccount(s)); wait > 0 {
		a.tooMany(w, r, wait, "reauth", data)
		return
	}
	if !a.users.check(s.UserID(), r.PostFormValue("password")) {
		data.Error = "The password is not correct."
		a.render(w, r, http.StatusUnauthorized, "reauth", data)
		return
	}
	// Records the time of this proof and renews the session ID.
	if err := s.Reauthenticate(r.Context()); errors.Is(err, session.ErrNotFound) {
		redirect(w, r, "/login") // logged out meanwhile
		return
	} else if err != nil {
		a.serverError(w, r, err)
		return
	}
	flash(r, fmt.Sprintf("Password confirmed. For the next %d minutes you can log out other sessions.", int(RecentAuth/time.Minute)))
	redirect(w, r, "/devices")
}

func (a *App) changePassword(w http.ResponseWriter, r *http.Request) {
	s := session.FromContext(r.Context())
	user := s.UserID()
	current, next := r.PostFormValue("current"), r.PostFormValue("new")
	data := &pageData{Title: "Change password"}
	fail := func(msg string) {
		data.Error = msg
		a.render(w, r, http.StatusBadRequest, "password", data)
	}
	if wait := a.throttle(r, sessionAccount(s)); wait > 0 {
		a.tooMany(w, r, wait, "password", data)
		return
	}
	switch {
	case !a.users.check(user, current):
		fail("The current password is not correct.")
		return
	case validNewPassword(next) != nil:
		fail(validNewPassword(next).Error() + ".")
		return
	case next != r.PostFormValue("confirm"):
		fail("The new passwords do not match.")
		return
	}
	// Whoever else holds a session of this user (perhaps the reason for the
	// change) must be logged out before the new password takes effect:
	// saved first, a failure to end the sessions would leave them alive
	// under the new password. RevokeOthers keeps this session (with a fresh
	// ID); if it fails, log the user out everywhere, this session included;
	// if that fails too, change nothing.
	err := s.RevokeOthers(r.Context())
	if errors.Is(err, errors.ErrUnsupported) {
		// -store cookie: no session can be ended on the server. Say so
		// rather than refuse the change or claim the others were ended.
		if err := a.users.set(user, next); err != nil {
			a.serverError(w, r, err)
			return
		}
		if err := s.Renew(r.Context()); err != nil {
			a.serverError(w, r, err)
			return
		}
		flash(r, "Password changed. "+statelessNote)
		redirect(w, r, "/profile")
		return
	}
	if err != nil {
		a.logger.WarnContext(r.Context(), "webapp: password change: ending the other sessions failed; logging out everywhere", "error", err)
		if err := a.m.RevokeUser(r.Context(), user); err != nil {
			a.serverError(w, r, fmt.Errorf("password not changed, sessions could not be ended: %w", err))
			return
		}
		if err := a.users.set(user, next); err != nil {
			a.serverError(w, r, err)
			return
		}
		// This session ended with the others; expire its cookie. The
		// revocation already holds if this delete fails.
		if err := s.Destroy(r.Context()); err != nil {
			a.logger.WarnContext(r.Context(), "webapp: password change: destroy", "error", err)
		}
		a.render(w, r, http.StatusOK, "login", &pageData{
			Title: "Log in", Username: user,
			Flash: "Password changed. Every session was logged out, this one too: log in with the new password.",
		})
		return
	}
	if err := a.users.set(user, next); err != nil {
		a.serverError(w, r, err)
		return
	}
	flash(r, "Password changed. Every other session was logged out.")
	redirect(w, r, "/devices")
}
