// Command example serves a tiny session app under m.Handler, measured by
// otelsession, and its metrics at /metrics in the Prometheus text format
// through the OpenTelemetry Prometheus exporter.
//
//	cd otelsession && go run ./example
//	curl -s -X POST -c /tmp/jar http://127.0.0.1:8080/login
//	curl -s http://127.0.0.1:8080/metrics | grep '^session_'
package main

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sessionkit/session"
	"github.com/sessionkit/session/otelsession"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

func main() {
	h, closeAll, err := newHandler()
	if err != nil {
		log.Fatal(err)
	}
	defer closeAll()
	addr := "127.0.0.1:8080"
	fmt.Printf("listening on http://%s/ (metrics at /metrics)\n", addr)
	log.Print(http.ListenAndServe(addr, h))
}

// newHandler builds the whole program: the app under m.Handler, with the
// session metrics exported at GET /metrics. closeAll releases what it
// created.
func newHandler() (h http.Handler, closeAll func(), err error) {
	// A registry of our own (not the global default) feeds /metrics.
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))

	store := session.NewMemoryStore()
	in, err := otelsession.New(mp, otelsession.WithLiveSessions(func(ctx context.Context) (int64, error) {
		n, err := store.Count(ctx)
		return int64(n), err
	}))
	if err != nil {
		return nil, nil, errors.Join(err, store.Close(), mp.Shutdown(context.Background()))
	}
	m, err := session.New(session.Config{
		Store:   otelsession.WrapStore(store, in), // session.store.duration
		OnEvent: in.OnEvent,                       // session.events
		// Plain HTTP on localhost only: the cookie is "sid" without Secure.
		Cookie: session.CookieConfig{AllowInsecure: true},
	})
	if err != nil {
		return nil, nil, errors.Join(err, in.Close(), store.Close(), mp.Shutdown(context.Background()))
	}
	closeAll = func() {
		_ = m.Close()
		_ = in.Close()
		_ = store.Close()
		_ = mp.Shutdown(context.Background())
	}

	root := http.NewServeMux()
	// Outside m.Handler: a scrape neither needs nor creates a session. In
	// production, serve it on an internal port or behind authentication.
	root.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	root.Handle("/", m.Handler(app()))
	return root, closeAll, nil
}

// app is a visit counter with a login and a logout.
func app() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n := s.GetInt("visits") + 1
		if err := s.Set("visits", n); err != nil {
			http.Error(w, "error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<p>Visits in this session: %d</p>", n)
		if u := s.UserID(); u != "" {
			fmt.Fprintf(w, `<p>Hello, %s.</p><form method="post" action="/logout"><button>Log out</button></form>`, html.EscapeString(u))
		} else {
			fmt.Fprint(w, `<form method="post" action="/login"><button>Log in as demo</button></form>`)
		}
		fmt.Fprint(w, `<p><a href="/metrics">metrics</a></p>`)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// A real app checks a password here.
		if err := session.FromContext(r.Context()).Login(r.Context(), "demo"); err != nil {
			http.Error(w, "login failed", http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Destroy(r.Context()); err != nil {
			http.Error(w, "logout failed", http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	return mux
}
