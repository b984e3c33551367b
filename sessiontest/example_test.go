package sessiontest_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/sessiontest"
)

// checkout is an application handler under test.
func checkout(w http.ResponseWriter, r *http.Request) {
	s := session.FromContext(r.Context())
	if s.UserID() == "" {
		http.Error(w, "log in first", http.StatusUnauthorized)
		return
	}
	n := s.GetInt("cart")
	s.Delete("cart")
	if err := s.Set("last_order", n); err != nil {
		http.Error(w, "error", http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "ordered %d items", n)
}

// A request logged in as a user, with values; then what the handler
// committed.
func Example() {
	t := &testing.T{} // in a test, the test's own t
	h := sessiontest.New(t, session.Config{})

	req := h.Request("POST", "/checkout", nil,
		sessiontest.User("alice"),
		sessiontest.Values(map[string]any{"cart": 3}))
	res := h.Run(http.HandlerFunc(checkout), req)

	s := res.Session()
	fmt.Println(res.Response.StatusCode, res.Body)
	fmt.Println(s.UserID(), s.Has("cart"), s.GetInt("last_order"))
	// Output:
	// 200 ordered 3 items
	// alice false 3
}

// An anonymous request: the handler refuses it and stores nothing.
func ExampleHarness_Request_anonymous() {
	h := sessiontest.New(&testing.T{}, session.Config{})
	res := h.Run(http.HandlerFunc(checkout), h.Request("POST", "/checkout", nil))
	fmt.Println(res.Response.StatusCode, res.Cookie == nil)
	// Output: 401 true
}

// Login renews the session: the committed cookie is a new one, and the
// events say so.
func ExampleResult_Kinds() {
	h := sessiontest.New(&testing.T{}, session.Config{})
	req := h.Request("POST", "/login", nil, sessiontest.Values(map[string]any{"theme": "dark"}))
	old, _ := req.Cookie("__Host-Http-sid")
	res := h.Run(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = session.FromContext(r.Context()).Login(r.Context(), "bob")
	}), req)
	fmt.Println(res.Kinds())
	fmt.Println(res.Cookie.Value != old.Value, res.UserID(), res.Session().GetString("theme"))
	// Output:
	// [session.login]
	// true bob dark
}
