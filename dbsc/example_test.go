package dbsc_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/dbsc"
)

// Bind logged-in sessions to the browser's device: offer the registration
// after Login, and serve through the Binder's handler (it wraps the
// Manager's middleware).
func ExampleNew() {
	m, err := session.New(session.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	b, err := dbsc.New(m, dbsc.Config{}) // endpoints under /dbsc/, a 10-minute __Host-dbsc cookie
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// ... check the password, then:
		if err := session.FromContext(r.Context()).Login(r.Context(), r.FormValue("user")); err != nil {
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		if err := b.Offer(w, r); err != nil { // the browser may now bind the session
			log.Print(err)
		}
	})
	handler := b.Handler(mux) // the Manager's middleware, with DBSC inside

	req := httptest.NewRequest(http.MethodPost, "https://example.com/login",
		strings.NewReader(url.Values{"user": {"alice"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	reg := rec.Header().Get("Secure-Session-Registration")
	fmt.Println(reg[:strings.Index(reg, ";challenge=")])
	// Output: (ES256);path="/dbsc/register"
}
