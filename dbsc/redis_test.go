package dbsc_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/dbsc"
	"github.com/sessionkit/session/internal/redistest"
)

// The binding on a real Redis: it survives an ID renewal (the store's
// atomic rotation moves it), the devices list shows it, a refresh works,
// and a logout ends it.
func TestRedisBinding(t *testing.T) {
	srv := redistest.StartServer(t)
	e := newEnvStore(t, session.NewRedisStore(srv.Client(t), session.WithKeyPrefix("dbsc-test:")), dbsc.Config{})
	d := e.boundDevice()
	resp := d.do(http.MethodPost, "/renew", nil, nil)
	resp.Body.Close()
	e.clock.Advance(time.Minute)
	wantGet(t, d, http.StatusOK, "alice (bound)")
	devices, err := e.b.Sessions(context.Background(), "alice")
	if err != nil || len(devices) != 1 || !devices[0].Bound {
		t.Fatalf("Sessions = %+v, %v: want one bound session", devices, err)
	}
	e.clock.Advance(dbsc.DefaultCookieLifetime)
	wantGet(t, d, http.StatusUnauthorized, "") // no refresh: refused and ended
	d = e.boundDevice()
	e.clock.Advance(dbsc.DefaultCookieLifetime)
	if status, goesOn := d.refresh(); status != http.StatusOK || !goesOn {
		t.Fatalf("refresh = %d, %v", status, goesOn)
	}
	wantGet(t, d, http.StatusOK, "alice (bound)")
	resp = d.do(http.MethodPost, "/logout", nil, nil)
	resp.Body.Close()
	if _, goesOn := d.refresh(); goesOn {
		t.Fatal("the binding survived a logout")
	}
}
