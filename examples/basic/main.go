// Command basic is the smallest sessionkit program: a visit counter and a
// login/logout on the in-memory store.
//
//	go run ./examples/basic
package main

import (
	"fmt"
	"html"
	"log"
	"net/http"

	"github.com/sessionkit/session"
)

func main() {
	m, err := session.New(session.Config{
		// Plain HTTP on localhost only: the cookie is "sid" without Secure.
		// Behind TLS, drop this line to get the __Host-Http-sid default.
		Cookie: session.CookieConfig{AllowInsecure: true},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n := s.GetInt("visits") + 1
		_ = s.Set("visits", n)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<p>Visits in this session: %d</p>", n)
		if u := s.UserID(); u != "" {
			fmt.Fprintf(w, `<p>Hello, %s.</p><form method="post" action="/logout"><button>Log out</button></form>`, html.EscapeString(u))
		} else {
			fmt.Fprint(w, `<form method="post" action="/login"><input name="user" placeholder="name" required> <button>Log in</button></form>`)
		}
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// A real app checks a password here (see examples/webapp). Login
		// issues a new session ID, so a planted ID is worthless.
		user := r.PostFormValue("user")
		if err := session.FromContext(r.Context()).Login(r.Context(), user); err != nil {
			http.Error(w, "login failed", http.StatusBadRequest)
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

	addr := "127.0.0.1:8080"
	fmt.Printf("listening on http://%s/\n", addr)
	// Handler refuses cross-origin form posts; for a synchronizer token
	// too, wrap the mux in m.CSRF (examples/webapp does).
	log.Fatal(http.ListenAndServe(addr, m.Handler(mux)))
}
