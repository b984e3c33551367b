package migrate_test

import (
	"log"
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/migrate"
)

// Cutting over from scs on Redis: the users logged in with scs stay logged
// in. Keep the importer until scs's Lifetime has passed since the switch.
func ExampleSCS() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"}) // scs's Redis
	imp, err := migrate.SCS(migrate.SCSConfig{
		Client:  rdb,
		UserKey: "userID", // what the scs app passed to sm.Put(ctx, "userID", id)
	})
	if err != nil {
		log.Fatal(err)
	}
	m, err := session.New(session.Config{Store: session.NewRedisStore(rdb), Import: imp})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux() // the application's routes
	log.Fatal(http.ListenAndServeTLS(":8443", "cert.pem", "key.pem", m.Handler(mux)))
}

// Cutting over from a gorilla/sessions CookieStore, with each legacy cookie
// adopted at most once (claims in Redis).
func ExampleGorilla() {
	hashKey, blockKey := []byte("the app's 32-byte hash key......"), []byte("the app's 32-byte block key.....")
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	imp, err := migrate.Gorilla(migrate.GorillaConfig{
		Cookie:   http.Cookie{Name: "app-session"}, // store.Get(r, "app-session")
		KeyPairs: [][]byte{hashKey, blockKey},      // sessions.NewCookieStore(hashKey, blockKey)
		UserKey:  "userID",                         // session.Values["userID"]
		Once:     migrate.RedisOnce(rdb, ""),
	})
	if err != nil {
		log.Fatal(err)
	}
	m, err := session.New(session.Config{Import: imp})
	if err != nil {
		log.Fatal(err)
	}
	_ = m.Handler(http.NewServeMux())
}
