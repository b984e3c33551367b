// Package frameworks shows the session middleware mounted in the common Go
// routers, each with the same small application: a counter kept in the
// session, a login that renews the ID, a CSRF-protected form, a
// Server-Sent Events stream and a WebSocket echo. The tests in this module
// prove each of them works through the router.
//
//   - net/http ServeMux: [NewServeMux] (m.Handler around the mux, m.CSRF
//     around a route).
//   - chi: [NewChi] (r.Use(m.Handler), r.With(m.CSRF)).
//   - gin: [NewGin] (ginsession.Middleware and ginsession.CSRF: gin writes
//     through its own writer and needs the adapter).
//   - echo: [NewEcho] (echo.WrapMiddleware(m.Handler) and
//     echo.WrapMiddleware(m.CSRF)).
package frameworks
