package session_test

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/sessionkit/session"
)

// A stateless deployment: the session travels in the cookie, sealed. The
// key would come from a secret store; an old key is kept for one absolute
// timeout after a rotation, so nobody is logged out.
func ExampleNewCookieStore() {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	var oldKey []byte // nil: no rotation under way
	cs, err := session.NewCookieStore(key, oldKey)
	if err != nil {
		panic(err)
	}
	m, err := session.New(session.Config{Store: cs})
	if err != nil {
		panic(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Set("theme", "dark"); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError) // ErrTooLarge past 4096 bytes
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://example.com/", nil))
	ck := rec.Result().Cookies()[0]
	fmt.Println(ck.Name, ck.HttpOnly, len(ck.Value) > 100)
	// Output: __Host-Http-sid true true
}

// Values encrypted at rest on a server store: a dump shows no value in the
// clear, and the store keeps its per-user index and atomic renewal.
func ExampleSealValues() {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	mem := session.NewMemoryStore()
	defer mem.Close()
	st, err := session.SealValues(mem, key)
	if err != nil {
		panic(err)
	}
	_, indexed := st.(session.UserIndex)
	_, rotates := st.(session.Rotator)
	fmt.Println(indexed, rotates)
	m, err := session.New(session.Config{Store: st})
	if err != nil {
		panic(err)
	}
	defer m.Close()
	// Output: true true
}
