package memcachedstore_test

import (
	"log"
	"net/http"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/session"
	"github.com/sessionkit/session/memcachedstore"
)

// A Manager whose sessions live in Memcached, with "your devices" and at
// most five sessions per user. Size the client's idle connections for the
// peak of concurrent requests, and the server's memory for the live
// sessions: an evicted session is a logged-out user.
func ExampleNew() {
	mc := memcache.New("127.0.0.1:11211")
	mc.MaxIdleConns = 64
	m, err := session.New(session.Config{Store: memcachedstore.New(mc), MaxSessionsPerUser: 5})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		_ = s.Set("visits", s.GetInt("visits")+1)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", m.Handler(mux)))
}
