package frameworks

import (
	"net/http"

	"github.com/sessionkit/session"
)

// ServeMuxRoutes returns the application's routes on a ServeMux, without
// the session middleware (for sessiontest, which adds its own).
func ServeMuxRoutes(m *session.Manager) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /inc", Increment)
	mux.HandleFunc("POST /login", Login)
	mux.HandleFunc("GET /whoami", WhoAmI)
	mux.HandleFunc("GET /token", Token)
	mux.Handle("POST /form", m.CSRF(http.HandlerFunc(Form)))
	mux.Handle("POST /api", m.CSRF(http.HandlerFunc(Form)))
	mux.HandleFunc("GET /events", Events)
	mux.HandleFunc("GET /ws", Socket)
	return mux
}

// NewServeMux is the application on net/http's ServeMux: m.Handler around
// the whole mux.
func NewServeMux(m *session.Manager) http.Handler {
	return m.Handler(ServeMuxRoutes(m))
}
