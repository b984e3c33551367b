package memcachedstore

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/memcachedtest"
	"github.com/sessionkit/session/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTombstonePeriod, on a real memcached: a logged-in user back after
// the idle timeout plus less than Config.TombstonePeriod (the default's 72
// hours: a weekend) is told "expired"; back after more, the ID is unknown,
// yet not counted as brute force (Block on, threshold 1: one count would
// answer 429). The store and the Manager share a fake clock; the items'
// own TTLs, in real seconds, outlive the test.
func TestTombstonePeriod(t *testing.T) {
	srv := memcachedtest.Start(t, memcachedtest.Options{})
	for _, tc := range []struct {
		name         string
		period, back time.Duration
		want         string
	}{
		{"DefaultWeekend", 0, 60 * time.Hour, session.EventExpiredIdle},
		{"WithinShort", 2 * time.Hour, 2 * time.Hour, session.EventExpiredIdle},
		{"PastShort", 2 * time.Hour, 4 * time.Hour, session.EventRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := testkit.NewClock(time.Now())
			st := New(memcache.New(srv.Addr), WithKeyPrefix("tomb"+tc.name+":"))
			st.s.now = clk.Now
			var mu sync.Mutex
			var kinds []string
			m, err := session.New(session.Config{Store: st, Clock: clk.Now, IdleTimeout: time.Hour, TombstonePeriod: tc.period,
				BruteForce: session.BruteForceConfig{Threshold: 1, Block: true},
				Logger:     slog.New(slog.DiscardHandler), Cookie: session.CookieConfig{Name: "sid", AllowInsecure: true},
				OnEvent: func(_ context.Context, e session.Event) { mu.Lock(); kinds = append(kinds, e.Kind); mu.Unlock() }})
			require.NoError(t, err)
			hs := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := session.FromContext(r.Context())
				if r.Method == http.MethodPost {
					if err := s.Login(r.Context(), "weekend"); err != nil {
						http.Error(w, "login failed", http.StatusInternalServerError)
						return
					}
				}
				_, _ = io.WriteString(w, s.UserID())
			})))
			t.Cleanup(hs.Close)
			jar, err := cookiejar.New(nil)
			require.NoError(t, err)
			hc := &http.Client{Jar: jar}
			res, err := hc.Post(hs.URL, "", nil)
			require.NoError(t, err)
			res.Body.Close()
			require.Equal(t, 200, res.StatusCode)

			clk.Advance(tc.back)
			res, err = hc.Get(hs.URL)
			require.NoError(t, err)
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			require.Equal(t, 200, res.StatusCode)
			assert.Empty(t, string(body))
			mu.Lock()
			defer mu.Unlock()
			assert.Contains(t, kinds, tc.want)
			assert.NotContains(t, kinds, session.EventBruteForce)
		})
	}
}
