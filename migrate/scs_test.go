package migrate_test

import (
	"context"
	"encoding/gob"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	redigo "github.com/gomodule/redigo/redis"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
	"github.com/sessionkit/session/migrate"
)

// Cart is a value type of the scs application, registered with gob as scs
// requires.
type Cart struct{ Items []string }

func init() { gob.Register(Cart{}) }

// scsApp is a real scs v2 application on a real Redis (redisstore over
// redigo, scs's default gob codec) and a go-redis client to the same server.
type scsApp struct {
	sm  *scs.SessionManager
	rdb *redis.Client
}

func newSCSApp(t *testing.T) *scsApp {
	t.Helper()
	srv := redistest.StartServer(t)
	pool := &redigo.Pool{Dial: func() (redigo.Conn, error) { return redigo.Dial("tcp", srv.Addr) }}
	t.Cleanup(func() { _ = pool.Close() })
	sm := scs.New()
	sm.Store = redisstore.New(pool)
	sm.Lifetime = time.Hour
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	return &scsApp{sm: sm, rdb: rdb}
}

// login logs a user in the scs way (RenewToken, then Put) with a value and
// a gob-registered struct, and returns scs's cookie.
func (a *scsApp) login(t *testing.T, userID int) *http.Cookie {
	t.Helper()
	h := a.sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		require.NoError(t, a.sm.RenewToken(ctx))
		if userID != 0 {
			a.sm.Put(ctx, "userID", userID)
		}
		a.sm.Put(ctx, "theme", "dark")
		a.sm.Put(ctx, "cart", Cart{Items: []string{"book", "pen"}})
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/login", nil))
	for _, c := range rec.Result().Cookies() {
		if c.Name == "session" {
			return c
		}
	}
	t.Fatal("scs set no cookie")
	return nil
}

func (a *scsApp) keys(t *testing.T) []string {
	t.Helper()
	keys, err := a.rdb.Keys(context.Background(), "scs:session:*").Result()
	require.NoError(t, err)
	return keys
}

func (a *scsApp) importer(t *testing.T) session.Importer {
	t.Helper()
	imp, err := migrate.SCS(migrate.SCSConfig{Client: a.rdb, UserKey: "userID"})
	require.NoError(t, err)
	return imp
}

// The bar: a user logged in with scs stays logged in across the switch.
// The first request with only scs's cookie ends with our cookie, the same
// user and the values; scs's record is gone and its cookie expired.
func TestSCSUserStaysLoggedIn(t *testing.T) {
	app := newSCSApp(t)
	legacy := app.login(t, 42)
	require.Len(t, app.keys(t), 1, "scs wrote its record to Redis")

	m, _, ev := newManager(t, app.importer(t))
	var cart Cart
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		cart, _ = session.Get[Cart](s, "cart")
		fmt.Fprint(w, s.UserID()+"|"+s.GetString("theme"))
	}))
	code, body, set := serve(h, legacy)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "42|dark", body)
	assert.Equal(t, Cart{Items: []string{"book", "pen"}}, cart)
	ours := set[ourCookie]
	require.NotNil(t, ours, "the first request ends with our cookie")
	assert.NotEqual(t, legacy.Value, ours.Value)
	require.NotNil(t, set["session"], "scs's cookie is expired")
	assert.Equal(t, -1, set["session"].MaxAge)
	assert.Empty(t, app.keys(t), "no scs record is left behind")
	assert.Equal(t, 1, ev.count(session.EventImported))

	// The next request carries our cookie (and scs's, if the browser kept
	// it): the same session.
	_, body, _ = serve(h, ours, legacy)
	assert.Equal(t, "42|dark", body)
	infos, err := m.Sessions(context.Background(), "42")
	require.NoError(t, err)
	assert.Len(t, infos, 1)

	// scs's cookie alone again (a replay): nothing left to adopt.
	_, body, set = serve(h, legacy)
	assert.Equal(t, "|", body)
	assert.Nil(t, set[ourCookie])
}

// An anonymous scs session keeps its values in a new anonymous session.
func TestSCSAnonymousSession(t *testing.T) {
	app := newSCSApp(t)
	legacy := app.login(t, 0)
	_, h, _ := newManager(t, app.importer(t))
	_, body, set := serve(h, legacy)
	assert.Equal(t, "|dark", body)
	assert.NotNil(t, set[ourCookie])
	assert.Empty(t, app.keys(t))
}

// Many pairs of requests racing with the same scs cookie on a real Redis:
// each legacy session is adopted exactly once, and its user ends with one
// session, never two.
func TestSCSConcurrentAdoption(t *testing.T) {
	app := newSCSApp(t)
	const users = 10
	cookies := make([]*http.Cookie, users)
	for i := range users {
		cookies[i] = app.login(t, 100+i)
	}
	m, h, ev := newManager(t, app.importer(t))
	adopted := make([][2]bool, users)
	var wg sync.WaitGroup
	for i := range users {
		for j := range 2 {
			wg.Go(func() {
				_, body, set := serve(h, cookies[i])
				adopted[i][j] = set[ourCookie] != nil && body == fmt.Sprintf("%d|dark", 100+i)
			})
		}
	}
	wg.Wait()
	for i := range users {
		assert.True(t, adopted[i][0] != adopted[i][1], "user %d: exactly one request adopts (%v)", 100+i, adopted[i])
		infos, err := m.Sessions(context.Background(), fmt.Sprint(100+i))
		require.NoError(t, err)
		assert.Len(t, infos, 1)
	}
	assert.Equal(t, users, ev.count(session.EventImported))
	assert.Empty(t, app.keys(t))
}

// Hostile and broken input: a cookie that is not an scs token is never
// looked up and is expired; a record that does not decode is reported
// (session.import_failed), left in Redis and the request served anonymous.
func TestSCSBadInput(t *testing.T) {
	app := newSCSApp(t)
	_, h, ev := newManager(t, app.importer(t))
	ctx := context.Background()
	require.NoError(t, app.rdb.Set(ctx, "scs:session:*", "x", time.Minute).Err())

	code, body, set := serve(h, &http.Cookie{Name: "session", Value: "*"})
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "|", body)
	require.NotNil(t, set["session"])
	assert.Equal(t, -1, set["session"].MaxAge)

	const token = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	require.NoError(t, app.rdb.Set(ctx, "scs:session:"+token, "not gob", time.Minute).Err())
	code, body, set = serve(h, &http.Cookie{Name: "session", Value: token})
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "|", body)
	assert.Nil(t, set[ourCookie])
	assert.Equal(t, []string{"importer_error", "importer_error"}, ev.reasons(session.EventImportFailed))
	n, err := app.rdb.Exists(ctx, "scs:session:"+token).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "an undecodable record is left for a fixed binary")

	// An unknown token: nothing to adopt, the cookie expired, no event.
	unknown := "B" + token[1:] // another first character: "B" itself in one token of 64
	if token[0] == 'B' {
		unknown = "C" + token[1:]
	}
	_, body, set = serve(h, &http.Cookie{Name: "session", Value: unknown})
	assert.Equal(t, "|", body)
	require.NotNil(t, set["session"])
	assert.Len(t, ev.reasons(session.EventImportFailed), 2)
}

func TestSCSConfig(t *testing.T) {
	_, err := migrate.SCS(migrate.SCSConfig{UserKey: "userID"})
	assert.ErrorIs(t, err, session.ErrInvalidConfig)
	_, err = migrate.SCS(migrate.SCSConfig{Client: redis.NewClient(&redis.Options{})})
	assert.ErrorIs(t, err, session.ErrInvalidConfig)
}
