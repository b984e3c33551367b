// Package app is the demo web application of examples/webapp: login
// (throttled per account and per client IP), a per-session counter, "your
// devices" with revocation behind a recent password check, and a password
// change that ends every other session before it takes effect. It is a
// package so that tests (including the browser tests in e2e/) can build it
// in-process.
package app

import (
	"context"
	"embed"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/ratelimit"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Config configures the app.
type Config struct {
	// Store keeps the sessions; nil means the in-memory store.
	Store session.Store
	// IdleTimeout and AbsoluteTimeout are passed to the session Manager
	// (zero: the library's defaults, 30m and 8h).
	IdleTimeout, AbsoluteTimeout time.Duration
	// User and Password are the demo account. User defaults to "demo";
	// Password is required.
	User, Password string
	// Iterations is the PBKDF2 work factor; default DefaultIterations.
	// Tests may lower it.
	Iterations int
	// Logger receives the library's security events. Default slog.Default().
	Logger *slog.Logger
	// LoginPerAccount and LoginPerIP bound the password checks (login,
	// re-authentication, password change) per account name and per client
	// IP within any LoginWindow; past either, the app answers 429 Too Many
	// Requests with Retry-After, before hashing anything. Zero: 10 per
	// account and 20 per IP in 15 minutes.
	LoginPerAccount, LoginPerIP int
	LoginWindow                 time.Duration
	// Clock returns the current time, for the sessions and the login
	// limits. Default time.Now. For tests.
	Clock func() time.Time
	// OnEvent, if set, also receives every security event (for example
	// an SQL store's audit trail, sqlstore.Store.Audit).
	OnEvent func(ctx context.Context, e session.Event)
}

// Defaults of Config.
const (
	DefaultLoginPerAccount = 10
	DefaultLoginPerIP      = 20
	DefaultLoginWindow     = 15 * time.Minute
)

// RecentAuth is how long after the password was last entered (at login or
// on the re-authentication page) the app lets the user end sessions without
// asking for it again (OWASP ASVS 7.5.2).
const RecentAuth = 5 * time.Minute

// App is the web application. Its Handler serves every route.
type App struct {
	m          *session.Manager
	users      *users
	pages      map[string]*pageTemplate
	handler    http.Handler
	logger     *slog.Logger
	now        func() time.Time
	perAccount *ratelimit.Limiter // password checks per account name
	perIP      *ratelimit.Limiter // password checks per client IP (/64 for IPv6)
}

// New builds the app and its session Manager. Cookies are sent without the
// Secure attribute (as "sid"), because the demo runs over plain HTTP on
// localhost; a deployment behind TLS drops AllowInsecure.
func New(cfg Config) (*App, error) {
	if cfg.User == "" {
		cfg.User = "demo"
	}
	if cfg.Password == "" {
		return nil, errors.New("app: a demo password is required")
	}
	if cfg.Iterations == 0 {
		cfg.Iterations = DefaultIterations
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.LoginPerAccount == 0 {
		cfg.LoginPerAccount = DefaultLoginPerAccount
	}
	if cfg.LoginPerIP == 0 {
		cfg.LoginPerIP = DefaultLoginPerIP
	}
	if cfg.LoginWindow == 0 {
		cfg.LoginWindow = DefaultLoginWindow
	}
	if cfg.LoginPerAccount < 0 || cfg.LoginPerIP < 0 || cfg.LoginWindow < 0 {
		return nil, errors.New("app: login limits must be positive")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	m, err := session.New(session.Config{
		Store:           cfg.Store,
		IdleTimeout:     cfg.IdleTimeout,
		AbsoluteTimeout: cfg.AbsoluteTimeout,
		Cookie:          session.CookieConfig{AllowInsecure: true},
		Logger:          cfg.Logger,
		Clock:           cfg.Clock,
		OnEvent:         cfg.OnEvent,
	})
	if err != nil {
		return nil, err
	}
	u, err := newUsers(cfg.Iterations)
	if err != nil {
		return nil, err
	}
	if err := u.set(cfg.User, cfg.Password); err != nil {
		return nil, err
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	// Bounded: a flood of made-up names or addresses costs at most this
	// many entries (about 200 bytes each).
	perAccount, err := ratelimit.New(cfg.LoginPerAccount, cfg.LoginWindow, 1<<14)
	if err != nil {
		return nil, err
	}
	perIP, err := ratelimit.New(cfg.LoginPerIP, cfg.LoginWindow, 1<<16)
	if err != nil {
		return nil, err
	}
	a := &App{
		m: m, users: u, pages: pages, logger: cfg.Logger, now: cfg.Clock,
		perAccount: perAccount, perIP: perIP,
	}
	// Outermost first: hardening headers on every response (403s included),
	// bounded bodies, then sessions, then the CSRF check, then the routes.
	a.handler = securityHeaders(http.MaxBytesHandler(m.Handler(m.CSRF(a.routes())), maxForm))
	return a, nil
}

// Handler returns the app's root handler.
func (a *App) Handler() http.Handler { return a.handler }

// Manager returns the app's session Manager.
func (a *App) Manager() *session.Manager { return a.m }

// Close releases the Manager (and the in-memory store it created). A store
// passed in Config is the caller's to close.
func (a *App) Close() error { return a.m.Close() }

func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /static/style.css", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, assets, "static/style.css")
	})
	mux.HandleFunc("GET /static/bfcache.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, assets, "static/bfcache.js")
	})
	mux.HandleFunc("GET /static/live.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, assets, "static/live.js")
	})
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.loginPage)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.Handle("GET /profile", a.private(a.profile))
	mux.Handle("POST /counter", a.private(a.increment))
	mux.Handle("GET /devices", a.private(a.devices))
	mux.Handle("GET /live", a.private(a.live))
	// Ending sessions needs the password entered within RecentAuth: a
	// stolen session cookie alone must not let its holder log the owner
	// out of everywhere else (ASVS 7.5.2).
	recent := session.RequireRecentAuth(RecentAuth, http.HandlerFunc(a.askReauth))
	mux.Handle("POST /devices/revoke", a.private(recent(http.HandlerFunc(a.revoke)).ServeHTTP))
	mux.Handle("POST /devices/revoke-others", a.private(recent(http.HandlerFunc(a.revokeOthers)).ServeHTTP))
	mux.Handle("GET /reauth", a.private(a.reauthPage))
	mux.Handle("POST /reauth", a.private(a.reauth))
	mux.Handle("GET /password", a.private(a.passwordPage))
	mux.Handle("POST /password", a.private(a.changePassword))
	return mux
}

// csp allows nothing but the app's own stylesheet, its two scripts (one
// reloads a page the back/forward cache restores, see static/bfcache.js;
// one keeps the profile page's live stream, static/live.js), the stream
// itself and form posts to itself; no inline script.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// securityHeaders sets the browser hardening headers on every response.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		// same-origin, not no-referrer: under no-referrer browsers send
		// "Origin: null" on the app's own form posts, which cross-origin
		// protection must refuse when Sec-Fetch-Site is absent.
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}
