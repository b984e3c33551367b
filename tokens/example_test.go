package tokens_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/tokens"
)

// apiMux is a small token API beside a cookie app: log in (a real app
// checks the password first), refresh, a protected route and logout.
func apiMux(m *session.Manager, tk *tokens.Tokens) *http.ServeMux {
	mux := http.NewServeMux()
	writePair := func(w http.ResponseWriter, p *tokens.Pair) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": p.AccessToken, "refresh_token": p.RefreshToken,
			"token_type": "Bearer", "expires_in": int(time.Until(p.AccessExpires).Seconds()),
		})
	}
	mux.HandleFunc("POST /api/token", func(w http.ResponseWriter, r *http.Request) {
		user := r.PostFormValue("user") // check the password here
		p, err := tk.Issue(r.Context(), r, user)
		if err != nil {
			http.Error(w, "cannot log in", http.StatusBadRequest)
			return
		}
		writePair(w, p)
	})
	mux.HandleFunc("POST /api/refresh", func(w http.ResponseWriter, r *http.Request) {
		p, err := tk.Refresh(r.Context(), r, r.PostFormValue("refresh_token"))
		switch {
		case errors.Is(err, session.ErrStore):
			http.Error(w, "try again", http.StatusServiceUnavailable)
		case err != nil: // unknown, expired, revoked, or reused (family ended)
			http.Error(w, "log in again", http.StatusUnauthorized)
		default:
			writePair(w, p)
		}
	})
	mux.Handle("GET /api/me", tk.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", tokens.FromContext(r.Context()).Subject)
	})))
	mux.HandleFunc("POST /api/logout", func(w http.ResponseWriter, r *http.Request) {
		_ = tk.Revoke(r.Context(), r.PostFormValue("refresh_token"))
		w.WriteHeader(http.StatusNoContent)
	})
	mux.Handle("GET /.well-known/jwks.json", tk.JWKS())
	return mux
}

// Example is an API client's life: log in, call the API, refresh, a thief
// replaying the old refresh token (the family ends), and the devices list.
func Example() {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	m, err := session.New(session.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	// No reuse grace here, so that the replay below counts at once; keep the
	// default (10s) in production.
	tk, err := tokens.New(m, tokens.Config{SigningKeys: []crypto.Signer{key}, ReuseGrace: -1})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(apiMux(m, tk))
	defer srv.Close()

	post := func(path string, form url.Values) (int, map[string]any) {
		res, err := http.PostForm(srv.URL+path, form)
		if err != nil {
			log.Fatal(err)
		}
		defer res.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body
	}
	get := func(access string) string {
		r, _ := http.NewRequest("GET", srv.URL+"/api/me", nil)
		r.Header.Set("Authorization", "Bearer "+access)
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			log.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return fmt.Sprintf("%d %s", res.StatusCode, strings.TrimSpace(string(b)))
	}

	_, pair := post("/api/token", url.Values{"user": {"alice"}})
	fmt.Println(get(pair["access_token"].(string)))
	stolen := pair["refresh_token"].(string)

	code, pair2 := post("/api/refresh", url.Values{"refresh_token": {stolen}})
	fmt.Println("refresh:", code)
	devices, _ := m.Sessions(context.Background(), "alice")
	fmt.Println("devices:", len(devices))

	// The thief replays the old refresh token: reuse. The family ends, so
	// the owner's next refresh fails too and the owner logs in again.
	code, _ = post("/api/refresh", url.Values{"refresh_token": {stolen}})
	fmt.Println("replay:", code)
	code, _ = post("/api/refresh", url.Values{"refresh_token": {pair2["refresh_token"].(string)}})
	fmt.Println("owner's next refresh:", code)
	devices, _ = m.Sessions(context.Background(), "alice")
	fmt.Println("devices:", len(devices))
	fmt.Println(get("not-a-token"))
	// Output:
	// 200 hello alice
	// refresh: 200
	// devices: 1
	// replay: 401
	// owner's next refresh: 401
	// devices: 0
	// 401 Unauthorized
}
