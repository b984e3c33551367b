package frameworks

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/gorilla/websocket"
	"github.com/sessionkit/session"
)

// Increment adds one to the counter "n" of the session and writes it.
func Increment(w http.ResponseWriter, r *http.Request) {
	s := session.FromContext(r.Context())
	n := s.GetInt("n") + 1
	if err := s.Set("n", n); err != nil {
		http.Error(w, "session error", http.StatusInternalServerError)
		return
	}
	fmt.Fprint(w, n)
}

// Login logs the session in as the form's "user" (credentials checking
// left out), renewing its ID.
func Login(w http.ResponseWriter, r *http.Request) {
	if err := session.FromContext(r.Context()).Login(r.Context(), r.FormValue("user")); err != nil {
		http.Error(w, "login failed", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// WhoAmI writes the session's user ("" when anonymous).
func WhoAmI(w http.ResponseWriter, r *http.Request) {
	fmt.Fprint(w, session.FromContext(r.Context()).UserID())
}

// Token writes the CSRF token to put in a form field or header.
func Token(w http.ResponseWriter, r *http.Request) {
	fmt.Fprint(w, session.CSRFToken(r))
}

// Form is a CSRF-protected form handler (mounted behind Manager.CSRF).
func Form(w http.ResponseWriter, r *http.Request) {
	fmt.Fprint(w, "accepted "+r.FormValue("x"))
}

// Events streams the counter as Server-Sent Events: it counts the visit
// first, so the session commits as the stream's headers go out.
func Events(w http.ResponseWriter, r *http.Request) {
	s := session.FromContext(r.Context())
	n := s.GetInt("n") + 1
	if err := s.Set("n", n); err != nil {
		http.Error(w, "session error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	rc := http.NewResponseController(w)
	for i := range 3 {
		fmt.Fprintf(w, "data: %d\n\n", n+i)
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

var upgrader = websocket.Upgrader{}

// Socket upgrades to a WebSocket and echoes each message prefixed with the
// session's user.
func Socket(w http.ResponseWriter, r *http.Request) {
	user := session.FromContext(r.Context()).UserID()
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade answered the client
	}
	defer conn.Close()
	for {
		typ, msg, err := conn.ReadMessage()
		if err != nil {
			return
		}
		if err := conn.WriteMessage(typ, []byte(user+": "+string(msg))); err != nil {
			return
		}
	}
}

// itoa is strconv.Itoa, for the routers' string responses.
func itoa(n int) string { return strconv.Itoa(n) }
