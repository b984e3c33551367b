package app

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sessionkit/session"
)

// Session keys used by the app.
const (
	keyCount = "count"
	keyFlash = "flash"
)

// maxForm bounds request bodies (see New): every form here is tiny.
const maxForm = 16 << 10

// pageData is what every template receives.
// statelessNote explains what a cookie store (session.CookieStore) cannot
// do: the server keeps no list of sessions to show or end.
const statelessNote = "Sessions are kept in encrypted cookies here, not on the server: " +
	"other browsers cannot be listed or logged out from here; they end at their idle or absolute timeout."

type pageData struct {
	Title    string
	User     string // "" when logged out
	CSRF     string // the CSRF token for this response's forms
	Flash    string // one-time message from the previous request
	Error    string
	Username string // login form prefill
	Count    int
	LoggedIn time.Time
	Devices  []deviceRow
}

type deviceRow struct {
	Handle     string
	Device     string
	UserAgent  string
	IP         string
	Created    time.Time
	LastSeen   time.Time
	Current    bool
	Remembered bool
}

type pageTemplate = template.Template

var funcs = template.FuncMap{
	"stamp": func(t time.Time) string { return t.Format("2006-01-02 15:04:05 MST") },
	"ago":   ago,
}

// parsePages parses each page together with the shared layout.
func parsePages() (map[string]*pageTemplate, error) {
	pages := make(map[string]*pageTemplate)
	for _, name := range []string{"login", "profile", "devices", "password", "reauth"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes page name with data, filling the fields every page needs.
// The page is rendered into a buffer first so a template error becomes a
// clean 500 instead of half a page.
func (a *App) render(w http.ResponseWriter, r *http.Request, status int, name string, data *pageData) {
	s := session.FromContext(r.Context())
	data.User = s.UserID()
	if f := s.Pop(keyFlash); f != "" || data.Flash == "" {
		data.Flash = f
	}
	data.CSRF = session.CSRFToken(r)
	var buf bytes.Buffer
	if err := a.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		a.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

func (a *App) serverError(w http.ResponseWriter, r *http.Request, err error) {
	a.logger.ErrorContext(r.Context(), "webapp: request failed", "path", r.URL.Path, "error", err)
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

func redirect(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// flash leaves a message for the next page.
func flash(r *http.Request, msg string) {
	_ = session.FromContext(r.Context()).Set(keyFlash, msg)
}

// private lets only logged-in sessions through; others go to the login page.
func (a *App) private(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if session.FromContext(r.Context()).UserID() == "" {
			redirect(w, r, "/login")
			return
		}
		h(w, r)
	})
}

func (a *App) home(w http.ResponseWriter, r *http.Request) {
	if session.FromContext(r.Context()).UserID() != "" {
		redirect(w, r, "/profile")
		return
	}
	redirect(w, r, "/login")
}

func (a *App) loginPage(w http.ResponseWriter, r *http.Request) {
	if session.FromContext(r.Context()).UserID() != "" {
		redirect(w, r, "/profile")
		return
	}
	a.render(w, r, http.StatusOK, "login", &pageData{Title: "Log in"})
}

func (a *App) logout(w http.ResponseWriter, r *http.Request) {
	if err := session.FromContext(r.Context()).Destroy(r.Context()); err != nil {
		a.serverError(w, r, err)
		return
	}
	redirect(w, r, "/login")
}

func (a *App) profile(w http.ResponseWriter, r *http.Request) {
	s := session.FromContext(r.Context())
	a.render(w, r, http.StatusOK, "profile", &pageData{
		Title:    "Profile",
		Count:    s.GetInt(keyCount),
		LoggedIn: s.AuthenticatedAt(),
	})
}

func (a *App) increment(w http.ResponseWriter, r *http.Request) {
	s := session.FromContext(r.Context())
	if err := s.Set(keyCount, s.GetInt(keyCount)+1); err != nil {
		a.serverError(w, r, err)
		return
	}
	redirect(w, r, "/profile")
}

func (a *App) devices(w http.ResponseWriter, r *http.Request) {
	s := session.FromContext(r.Context())
	infos, err := a.m.Sessions(r.Context(), s.UserID())
	if errors.Is(err, errors.ErrUnsupported) { // -store cookie: nothing on the server to list
		a.render(w, r, http.StatusOK, "devices", &pageData{Title: "Your devices", Error: statelessNote})
		return
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	// This device first, then the others by last activity (as listed).
	slices.SortStableFunc(infos, func(x, y session.SessionInfo) int {
		switch {
		case x.Current == y.Current:
			return 0
		case x.Current:
			return -1
		}
		return 1
	})
	rows := make([]deviceRow, 0, len(infos))
	for _, in := range infos {
		rows = append(rows, deviceRow{
			Handle:     in.Handle,
			Device:     describeDevice(in.UserAgent),
			UserAgent:  in.UserAgent,
			IP:         in.IP,
			Created:    in.CreatedAt,
			LastSeen:   in.LastSeen,
			Current:    in.Current,
			Remembered: in.Remembered,
		})
	}
	a.render(w, r, http.StatusOK, "devices", &pageData{Title: "Your devices", Devices: rows})
}

func (a *App) revoke(w http.ResponseWriter, r *http.Request) {
	s := session.FromContext(r.Context())
	err := a.m.Revoke(r.Context(), s.UserID(), r.PostFormValue("handle"))
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		flash(r, statelessNote)
	case errors.Is(err, session.ErrNotFound):
		flash(r, "That session had already ended.")
	case err != nil:
		a.serverError(w, r, err)
		return
	default:
		flash(r, "The session was logged out.")
	}
	redirect(w, r, "/devices")
}

func (a *App) revokeOthers(w http.ResponseWriter, r *http.Request) {
	if err := session.FromContext(r.Context()).RevokeOthers(r.Context()); errors.Is(err, errors.ErrUnsupported) {
		flash(r, statelessNote)
		redirect(w, r, "/devices")
		return
	} else if err != nil {
		a.serverError(w, r, err)
		return
	}
	flash(r, "Every other session was logged out.")
	redirect(w, r, "/devices")
}

func (a *App) passwordPage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "password", &pageData{Title: "Change password"})
}

// describeDevice turns a User-Agent into "Browser on OS".
func describeDevice(ua string) string {
	browser := "Unknown browser"
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"},
		{"HeadlessChrome/", "Headless Chrome"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"},
		{"curl/", "curl"}, {"Go-http-client/", "Go HTTP client"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	osName := ""
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			osName = o.name
			break
		}
	}
	if osName == "" {
		return browser
	}
	return browser + " on " + osName
}

// ago says how long ago t was, roughly.
func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	default:
		return plural(int(d/(24*time.Hour)), "day") + " ago"
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
