package frameworks_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/examples/frameworks"
	"github.com/sessionkit/session/sessiontest"
)

// Testing an application's handlers from outside the library, with only
// its public API: a request carrying a session with values, and what the
// handler committed.
func Example_sessiontestValues() {
	h := sessiontest.New(&testing.T{}, session.Config{}) // in a test: its t
	routes := frameworks.ServeMuxRoutes(h.Manager())

	req := h.Request("POST", "/inc", nil, sessiontest.Values(map[string]any{"n": 41}))
	res := h.Run(routes, req)
	fmt.Println(res.Response.StatusCode, res.Body, res.Session().GetInt("n"))

	res = h.Run(routes, res.Next("POST", "/inc", nil))
	fmt.Println(res.Body)
	// Output:
	// 200 42 42
	// 43
}

// A logged-in request, and a login whose renewal the result shows.
func Example_sessiontestLogin() {
	h := sessiontest.New(&testing.T{}, session.Config{})
	routes := frameworks.ServeMuxRoutes(h.Manager())

	res := h.Run(routes, h.Request("GET", "/whoami", nil, sessiontest.User("alice")))
	fmt.Println(res.Body)

	login := h.Request("POST", "/login?user=bob", nil)
	res = h.Run(routes, login)
	fmt.Println(res.Response.StatusCode, res.UserID(), res.Cookie != nil, res.Kinds())
	// Output:
	// alice
	// 204 bob true [session.login]
}

// An anonymous visitor who only reads commits nothing: no cookie, no event.
func Example_sessiontestAnonymous() {
	h := sessiontest.New(&testing.T{}, session.Config{})
	res := h.Run(http.HandlerFunc(frameworks.WhoAmI), h.Request("GET", "/whoami", nil))
	fmt.Printf("%q %v %d\n", res.Body, res.Cookie == nil, len(res.Events))
	// Output: "" true 0
}
