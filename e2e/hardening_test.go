package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/examples/webapp/app"
)

// clock is a settable time source for the app (sessions and login limits).
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// submitResponse clicks a form's button and returns the status and the
// Retry-After header of the page it leads to.
func submitResponse(t *testing.T, ctx context.Context, button string) (int64, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(button)))
	if err != nil {
		t.Fatalf("submit %s: %v", button, err)
	}
	retry := ""
	for k, v := range resp.Headers {
		if strings.EqualFold(k, "Retry-After") {
			retry = fmt.Sprint(v)
		}
	}
	return resp.Status, retry
}

// tryLogin fills the login form on the current login page and submits it.
func tryLogin(t *testing.T, ctx context.Context, password string) (int64, string) {
	t.Helper()
	do(t, ctx, "fill the login form",
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SetValue(chromedp.ID("username"), demoUser),
		chromedp.SetValue(chromedp.ID("password"), password),
	)
	return submitResponse(t, ctx, "#login button[type=submit]")
}

// (h) 50 wrong passwords from one browser: the first LoginPerAccount are
// answered 401, the rest 429 with Retry-After; until Retry-After has passed
// even the right password is refused, and afterwards it logs in.
func TestLoginThrottledWithRetryAfter(t *testing.T) {
	ctx := newBrowser(t)
	clk := newClock()
	s := startApp(t, app.Config{Clock: clk.Now}, "")
	do(t, ctx, "open login", chromedp.Navigate(s.URL+"/login"))

	wait := 0
	for i := 1; i <= 50; i++ {
		st, retry := tryLogin(t, ctx, "wrong password "+strconv.Itoa(i))
		if i <= app.DefaultLoginPerAccount {
			if st != http.StatusUnauthorized || retry != "" {
				t.Fatalf("attempt %d: status %d, Retry-After %q; want 401 without", i, st, retry)
			}
			continue
		}
		n, err := strconv.Atoi(retry)
		if st != http.StatusTooManyRequests || err != nil || n <= 0 || time.Duration(n)*time.Second > 2*app.DefaultLoginWindow {
			t.Fatalf("attempt %d: status %d, Retry-After %q; want 429 with 1 to %v seconds", i, st, retry, (2 * app.DefaultLoginWindow).Seconds())
		}
		wait = n
	}
	if text := bodyText(t, ctx); !strings.Contains(text, "Too many password attempts. Try again in") {
		t.Fatalf("throttled page: %q", text)
	}

	// Before the limit's end the right password is refused too.
	if st, _ := tryLogin(t, ctx, demoPassword); st != http.StatusTooManyRequests {
		t.Fatalf("right password while throttled: status %d, want 429", st)
	}
	clk.Advance(time.Duration(wait-1) * time.Second)
	if st, retry := tryLogin(t, ctx, demoPassword); st != http.StatusTooManyRequests || retry != "1" {
		t.Fatalf("one second before the end: status %d, Retry-After %q; want 429, 1", st, retry)
	}
	clk.Advance(time.Second)
	if st, _ := tryLogin(t, ctx, demoPassword); st != http.StatusOK || path(t, ctx) != "/profile" {
		t.Fatalf("after Retry-After: status %d at %s, want the profile", st, path(t, ctx))
	}
	if !strings.Contains(s.Log.String(), "webapp: password attempts throttled") {
		t.Fatalf("throttling not logged:\n%s", s.Log)
	}
}

// (i) Revoking another browser's session when the password was entered more
// than RecentAuth ago leads to a page asking for it; a wrong password
// changes nothing; after the right one the revocation works.
func TestRevokeAsksForThePasswordAgain(t *testing.T) {
	a, b := newBrowser(t), newBrowser(t)
	clk := newClock()
	s := startApp(t, app.Config{Clock: clk.Now}, "")
	login(t, a, s, demoPassword)
	login(t, b, s, demoPassword)
	clk.Advance(app.RecentAuth + time.Second)

	revoke := func() int64 {
		do(t, a, "open devices", chromedp.Navigate(s.URL+"/devices"), chromedp.WaitVisible(chromedp.ID("devices")))
		if n := rows(t, a); n != 2 {
			t.Fatalf("devices lists %d sessions, want 2", n)
		}
		return submit(t, a, "#devices tr.other form.revoke button")
	}
	confirm := func(password string) int64 {
		do(t, a, "fill the password", chromedp.WaitVisible(chromedp.ID("reauth")),
			chromedp.SetValue(chromedp.ID("reauth-password"), password))
		return submit(t, a, "#reauth button[type=submit]")
	}

	if st := revoke(); st != 200 || path(t, a) != "/reauth" {
		t.Fatalf("revoke without a recent password: status %d at %s, want the password page", st, path(t, a))
	}
	if text := bodyText(t, a); !strings.Contains(text, "Enter your password again") {
		t.Fatalf("password page: %q", text)
	}
	count(t, b, s) // b is still logged in

	if st := confirm("not the password"); st != http.StatusUnauthorized {
		t.Fatalf("wrong password: status %d, want 401", st)
	}
	if st := revoke(); st != 200 || path(t, a) != "/reauth" {
		t.Fatalf("revoke after a wrong password: status %d at %s, want the password page", st, path(t, a))
	}
	count(t, b, s)

	if st := confirm(demoPassword); st != 200 || path(t, a) != "/devices" {
		t.Fatalf("right password: status %d at %s, want the devices page", st, path(t, a))
	}
	if text := bodyText(t, a); !strings.Contains(text, "Password confirmed.") {
		t.Fatalf("no confirmation: %q", text)
	}
	if st := revoke(); st != 200 || path(t, a) != "/devices" {
		t.Fatalf("revoke after the password: status %d at %s", st, path(t, a))
	}
	if text := bodyText(t, a); !strings.Contains(text, "The session was logged out.") {
		t.Fatalf("no confirmation after revoke: %q", text)
	}
	if n := rows(t, a); n != 1 {
		t.Fatalf("devices lists %d sessions after revoke, want 1", n)
	}
	expectLoginPage(t, b, s, "/profile")
	count(t, a, s)
}

// flakyStore is the memory store whose next failRevoke RevokeUser calls fail.
type flakyStore struct {
	*session.MemoryStore
	failRevoke atomic.Int32
}

func (s *flakyStore) RevokeUser(ctx context.Context, userID string) error {
	if s.failRevoke.Add(-1) >= 0 {
		return errors.New("flaky store: revoke user failed")
	}
	return s.MemoryStore.RevokeUser(ctx, userID)
}

// Rotate fails like RevokeUser for the renewal of RevokeOthers, which
// revokes the user's other sessions in the same store step.
func (s *flakyStore) Rotate(ctx context.Context, rot *session.Rotation) ([]session.IndexedRecord, error) {
	if rot.RevokeUser && s.failRevoke.Add(-1) >= 0 {
		return nil, errors.New("flaky store: revoke others failed")
	}
	return s.MemoryStore.Rotate(ctx, rot)
}

// (j) A password change ends the other sessions before the new password is
// saved: when ending them alone fails, every session ends (this one too)
// and the new password holds; when logging out everywhere fails as well,
// the password stays as it was and every session stays.
func TestPasswordChangeEndsSessionsBeforeSaving(t *testing.T) {
	const next = "a new e2e password"
	for _, c := range []struct {
		name     string
		failures int32
	}{{"fallback", 1}, {"both fail", 2}} {
		t.Run(c.name, func(t *testing.T) {
			a, b := newBrowser(t), newBrowser(t)
			st := &flakyStore{MemoryStore: session.NewMemoryStore()}
			t.Cleanup(func() { _ = st.Close() })
			s := startApp(t, app.Config{Store: st}, "")
			login(t, a, s, demoPassword)
			login(t, b, s, demoPassword)
			do(t, a, "fill the password form",
				chromedp.Navigate(s.URL+"/password"),
				chromedp.WaitVisible(chromedp.ID("change-password")),
				chromedp.SendKeys(chromedp.ID("current"), demoPassword),
				chromedp.SendKeys(chromedp.ID("new"), next),
				chromedp.SendKeys(chromedp.ID("confirm"), next),
			)
			st.failRevoke.Store(c.failures)
			status := submit(t, a, "#change-password button[type=submit]")
			st.failRevoke.Store(0)

			valid, stale := next, demoPassword
			if c.failures == 1 {
				if text := bodyText(t, a); status != 200 || !strings.Contains(text, "Every session was logged out, this one too") {
					t.Fatalf("status %d, page %q", status, text)
				}
				expectLoginPage(t, a, s, "/profile")
				expectLoginPage(t, b, s, "/profile")
			} else {
				if status != http.StatusInternalServerError {
					t.Fatalf("status %d, want 500", status)
				}
				count(t, a, s)
				count(t, b, s)
				valid, stale = demoPassword, next
			}
			c := newBrowser(t)
			do(t, c, "open login", chromedp.Navigate(s.URL+"/login"))
			if st, _ := tryLogin(t, c, stale); st != http.StatusUnauthorized {
				t.Fatalf("the password that should not work: status %d, want 401", st)
			}
			login(t, c, s, valid)
		})
	}
}
