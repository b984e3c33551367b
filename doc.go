// Package session keeps users logged in safely: server-side sessions for
// net/http with 256-bit random IDs, idle and absolute timeouts, ID renewal
// on login, a hardened cookie, and the data in a pluggable [Store]: memory
// ([NewMemoryStore]) and Redis ([NewRedisStore]) in this package, SQL in
// package sqlstore, Memcached in module memcachedstore, the record sealed in
// the cookie itself ([NewCookieStore]), or your own, proven with package
// storetest.
//
// # The 30-second example
//
//	m, err := session.New(session.Config{}) // safe defaults, in-memory store
//	if err != nil {
//		log.Fatal(err)
//	}
//	mux := http.NewServeMux()
//	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
//		// ... check the password, then:
//		if err := session.FromContext(r.Context()).Login(r.Context(), "alice"); err != nil {
//			http.Error(w, "try again", http.StatusInternalServerError)
//			return
//		}
//	})
//	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
//		s := session.FromContext(r.Context())
//		if err := s.Set("visits", s.GetInt("visits")+1); err != nil {
//			http.Error(w, "try again", http.StatusInternalServerError)
//			return
//		}
//		fmt.Fprintf(w, "hello %q, visit %d", s.UserID(), s.GetInt("visits"))
//	})
//	// The default cookie is __Host-Http-sid, Secure: serve HTTPS (or set
//	// Cookie.AllowInsecure for local HTTP).
//	log.Fatal(http.ListenAndServeTLS(":8443", "cert.pem", "key.pem", m.Handler(mux)))
//
// The zero [Config] is the safe one; [New] refuses unsafe or contradictory
// settings with an error wrapping [ErrInvalidConfig].
//
// # The request path
//
// Data flows one way, and the file list follows it:
//
//	request ─▶ transport ─▶ middleware ─▶ Manager policy ─▶ Store
//	           cookie.go    middleware.go  session.go ...    storage.go ─▶ store.go
//
// Step by step:
//
//   - Transport (cookie.go, internal/sid) reads the ID from the cookie (or,
//     opt-in, a request header for API clients; never a URL) and writes the
//     hardened Set-Cookie.
//   - Middleware ([Manager.Handler], middleware.go) puts a lazy [Session] in
//     the request context ([FromContext]): a handler that never touches it
//     costs no store call. It refuses cross-origin unsafe requests, and
//     commits the session just before the response headers go out, without
//     buffering the body; a store failure becomes the error handler's
//     response, never a 200 that lost a write.
//   - Manager policy: loading and strict mode (session.go), values
//     (values.go), metadata and per-session settings (meta.go), Login,
//     Renew, Reauthenticate and Destroy (lifecycle.go), the commit point
//     (commit.go), timeouts and store errors (manager.go).
//   - The one door to the store (storage.go): every store call goes through
//     it, so failures are wrapped in [ErrStore] and reported as events in
//     one place.
//   - Stores ([Store], store.go) persist [Record]s keyed by a hash of the ID,
//     never the ID, merging each request's [Delta] atomically. Optional
//     interfaces add the per-user index ([UserIndex]) and atomic renewal
//     ([Rotator]), and whole-fleet operations ([Fleet]). [MemoryStore] and
//     [RedisStore] implement all of them. Their engines live in leaf
//     packages (internal/memstore, internal/redisstore with its Lua) that
//     import only the store data model (internal/storekit) and their
//     driver; the sealed cookie is internal/cookieseal (over internal/sealing
//     and internal/wire, the record codec shared with the Memcached store),
//     and SealValues' engine is internal/valueseal.
//
// # Where each feature lives
//
//   - Devices and log-out-everywhere: [Manager.Sessions], [Manager.Revoke],
//     [Manager.RevokeUser], [Session.RevokeOthers] (devices.go); the per-user
//     cap [Config.MaxSessionsPerUser].
//   - CSRF: [Manager.CSRF] and [CSRFToken] (csrf*.go), on top of the default
//     cross-origin refusal.
//   - Security events: [Event], [Config.OnEvent] and [Config.Logger]
//     (events.go); IDs appear only as keyed hashes.
//   - Re-authentication: [RequireRecentAuth] (recentauth.go), device
//     binding [Config.Binding] (binding.go), brute-force signal
//     [Config.BruteForce] (bruteforce.go); login throttling is package
//     ratelimit.
//   - Streaming and WebSockets: [Session.Save]; [Session.Check] and
//     [Session.Watch] end a long-lived connection when its session ends
//     (live.go); the response wrapper passes http.Flusher and
//     http.Hijacker through.
//   - Everyone at once: [Manager.RevokeAll] and [Manager.CountSessions]
//     (admin.go), on stores implementing [Fleet].
//   - Switching from another library: [Config.Import] adopts a legacy
//     session once ([Importer]); module
//     github.com/sessionkit/session/migrate has importers for scs and
//     gorilla/sessions (see MIGRATING.md).
//
// # What is default and what is yours
//
// The OWASP ASVS 5.0 session chapter is mapped requirement by requirement in
// SECURITY.md: most requirements are met by the zero [Config]; some need one
// option ([Config.MaxSessionsPerUser], [RequireRecentAuth]); some only the
// application can meet with the means given (calling [Manager.RevokeUser]
// when an account is disabled, a visible logout button, documenting its
// timeouts).
//
// # Races and faults
//
// The promises hold when two requests race or the store fails mid-request:
// renewal is one atomic store step ([Rotator]), so a logout or a log out
// everywhere landing at any moment wins; a commit sends only what its
// request changed and never resurrects an ended session; [Session.Destroy]
// fails closed; an ID renewed a moment ago ([Config.RotationGrace]) is
// answered as anonymous without touching the browser's cookie; stores keep
// a [Tombstone] so an expired session is reported as expired, not as a
// forged ID.
package session
