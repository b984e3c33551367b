// Package migrate adopts the sessions of the library an application is
// leaving, so that switching to [github.com/sessionkit/session] logs nobody
// out. Each constructor returns a [session.Importer] for [session.Config]'s
// Import field:
//
//   - [SCS] reads an alexedwards/scs v2 session from its Redis store
//     (redisstore or goredisstore, gob codec), claims it with one DEL so
//     that only one request adopts it, and maps the user key the
//     application names to the user and the other values to values;
//   - [Gorilla] opens a gorilla/sessions CookieStore cookie (securecookie)
//     with the application's keys. A cookie-only session has no server
//     record to delete: the importer expires the cookie, and with
//     [GorillaConfig.Once] (for example [RedisOnce]) it adopts each cookie
//     at most once.
//
// On the first request that carries only the legacy cookie, the Manager
// logs the legacy user in under a new ID of its own (a [session.Session.Login]:
// the user index and the per-user cap apply), keeps the values, expires the
// legacy cookie and emits [session.EventImported]. Leave the importer
// configured for as long as legacy sessions can live (scs's lifetime,
// gorilla's MaxAge), then remove it.
//
// A legacy record that does not decode, or a cookie that does not open, is
// an error: the Manager serves the request as a new anonymous session and
// emits [session.EventImportFailed]; nothing panics and nothing answers 500.
package migrate
