package frameworks

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/sessionkit/session"
)

// NewChi is the application on chi: Manager.Handler and Manager.CSRF are
// chi middleware as they are.
func NewChi(m *session.Manager) http.Handler {
	r := chi.NewRouter()
	r.Use(m.Handler)
	r.Post("/inc", Increment)
	r.Post("/login", Login)
	r.Get("/whoami", WhoAmI)
	r.Get("/token", Token)
	r.With(m.CSRF).Post("/form", Form)
	r.With(m.CSRF).Post("/api", Form)
	r.Get("/events", Events)
	r.Get("/ws", Socket)
	return r
}
