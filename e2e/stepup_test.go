package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/sessionkit/session"
)

// The step-up scenario of issue 27 in Chromium with its virtual WebAuthn
// authenticator (DevTools protocol): a route that requires a passkey
// within five minutes refuses a password login, the page runs the WebAuthn
// ceremony, the server checks the assertion and calls Reauthenticate with
// WithMethod("passkey"), and the route lets the request through.
//
// The server checks what makes the session flow meaningful, with the
// standard library: the challenge it issued (kept in the session), the
// type and origin in clientDataJSON, the RP ID hash and the user-presence
// flag in authenticatorData, and the ES256 signature under the public key
// the browser returned at registration. Attestation is "none" and not
// verified: a real application uses a WebAuthn library for all of it.

// fetchJS defines post(path, body) and get(path), which answer "status body".
const fetchJS = `
async function post(path, body) {
  const r = await fetch(path, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body || {})});
  return r.status + ' ' + (await r.text()).trim();
}
async function get(path) { const r = await fetch(path); return r.status + ' ' + (await r.text()).trim(); }
`

// stepUpPage is the test page: login, passkey registration and step-up as
// functions the test calls.
const stepUpPage = `<!doctype html><title>step-up</title><script>` + fetchJS + `
const b64 = b => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g,'-').replace(/\//g,'_').replace(/=+$/,'');
const unb64 = s => Uint8Array.from(atob(s.replace(/-/g,'+').replace(/_/g,'/')), c => c.charCodeAt(0));
async function register() {
  const ch = await (await fetch('/webauthn/challenge', {method: 'POST'})).text();
  const cred = await navigator.credentials.create({publicKey: {
    challenge: unb64(ch), rp: {name: 'e2e', id: location.hostname},
    user: {id: new TextEncoder().encode('alice'), name: 'alice', displayName: 'Alice'},
    pubKeyCredParams: [{type: 'public-key', alg: -7}], attestation: 'none',
    authenticatorSelection: {residentKey: 'preferred', userVerification: 'preferred'}}});
  return post('/webauthn/register', {id: cred.id, publicKey: b64(cred.response.getPublicKey()),
    clientDataJSON: b64(cred.response.clientDataJSON)});
}
async function stepUp() {
  const ch = await (await fetch('/webauthn/challenge', {method: 'POST'})).text();
  const a = await navigator.credentials.get({publicKey: {challenge: unb64(ch), rpId: location.hostname,
    userVerification: 'preferred'}});
  return post('/webauthn/assert', {id: a.id, clientDataJSON: b64(a.response.clientDataJSON),
    authenticatorData: b64(a.response.authenticatorData), signature: b64(a.response.signature)});
}
</script><p id=ready>ready</p>`

// passkeys is the server's credential store: user -> credential ID -> key.
type passkeys struct {
	mu   sync.Mutex
	keys map[string]map[string]*ecdsa.PublicKey
}

func (p *passkeys) add(user, id string, k *ecdsa.PublicKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.keys[user] == nil {
		p.keys[user] = map[string]*ecdsa.PublicKey{}
	}
	p.keys[user][id] = k
}

func (p *passkeys) get(user, id string) *ecdsa.PublicKey {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[user][id]
}

// webauthnMsg is what the page posts after a ceremony (base64url fields).
type webauthnMsg struct {
	ID, PublicKey, ClientDataJSON, AuthenticatorData, Signature string
}

const challengeKey = "webauthn_challenge"

// checkClientData checks clientDataJSON against the challenge the session
// holds (which it consumes), the ceremony type and the origin.
func checkClientData(s *session.Session, raw []byte, typ, origin string) error {
	want := s.GetString(challengeKey)
	s.Delete(challengeKey)
	var cd struct{ Type, Challenge, Origin string }
	if err := json.Unmarshal(raw, &cd); err != nil {
		return err
	}
	if want == "" || cd.Challenge != want || cd.Type != typ || cd.Origin != origin {
		return fmt.Errorf("client data %+v does not match challenge %q, type %s, origin %s", cd, want, typ, origin)
	}
	return nil
}

// verifyAssertion checks an assertion: client data, RP ID hash, the
// user-present flag and the signature over authenticatorData ||
// SHA-256(clientDataJSON).
func verifyAssertion(s *session.Session, m *webauthnMsg, key *ecdsa.PublicKey, origin, rpID string) error {
	dec := base64.RawURLEncoding.DecodeString
	cdj, err1 := dec(m.ClientDataJSON)
	ad, err2 := dec(m.AuthenticatorData)
	sig, err3 := dec(m.Signature)
	if err := errors.Join(err1, err2, err3); err != nil {
		return err
	}
	if err := checkClientData(s, cdj, "webauthn.get", origin); err != nil {
		return err
	}
	rp := sha256.Sum256([]byte(rpID))
	if len(ad) < 37 || !bytes.Equal(ad[:32], rp[:]) || ad[32]&1 == 0 {
		return errors.New("authenticator data: wrong RP ID hash or user not present")
	}
	cdHash := sha256.Sum256(cdj)
	digest := sha256.Sum256(append(append([]byte(nil), ad...), cdHash[:]...))
	if key == nil || !ecdsa.VerifyASN1(key, digest[:], sig) {
		return errors.New("bad signature")
	}
	return nil
}

// stepUpHandler is the app: its routes, and a sensitive one that requires
// a passkey within five minutes.
func stepUpHandler(origin, rpID string, keys *passkeys) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, stepUpPage)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// A real page checks the password first.
		s := session.FromContext(r.Context())
		reply(w, s.Login(r.Context(), "alice", session.WithMethod("password")))
	})
	mux.HandleFunc("POST /webauthn/challenge", func(w http.ResponseWriter, r *http.Request) {
		ch := make([]byte, 32)
		_, _ = rand.Read(ch)
		c := base64.RawURLEncoding.EncodeToString(ch)
		if err := session.FromContext(r.Context()).Set(challengeKey, c); err != nil {
			reply(w, err)
			return
		}
		fmt.Fprint(w, c)
	})
	mux.HandleFunc("POST /webauthn/register", func(w http.ResponseWriter, r *http.Request) {
		reply(w, register(r, origin, keys))
	})
	mux.HandleFunc("POST /webauthn/assert", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		var m webauthnMsg
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil || s.UserID() == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if err := verifyAssertion(s, &m, keys.get(s.UserID(), m.ID), origin, rpID); err != nil {
			http.Error(w, "assertion refused: "+err.Error(), http.StatusForbidden)
			return
		}
		reply(w, s.Reauthenticate(r.Context(), session.WithMethod("passkey")))
	})
	mux.HandleFunc("GET /methods", func(w http.ResponseWriter, r *http.Request) {
		ms := session.FromContext(r.Context()).AuthMethods()
		fmt.Fprint(w, strings.Join(slices.Sorted(maps.Keys(ms)), ","))
	})
	needPasskey := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "passkey required", http.StatusUnauthorized)
	})
	mux.Handle("GET /account/keys", session.RequireRecentAuth(5*time.Minute, needPasskey, "passkey")(
		http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "secret keys") })))
	return mux
}

// register stores the public key of a new passkey for the logged-in user.
func register(r *http.Request, origin string, keys *passkeys) error {
	s := session.FromContext(r.Context())
	var m webauthnMsg
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil || s.UserID() == "" {
		return errors.New("bad registration")
	}
	cdj, err := base64.RawURLEncoding.DecodeString(m.ClientDataJSON)
	if err != nil {
		return err
	}
	if err := checkClientData(s, cdj, "webauthn.create", origin); err != nil {
		return err
	}
	der, err := base64.RawURLEncoding.DecodeString(m.PublicKey)
	if err != nil {
		return err
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	k, ok := pub.(*ecdsa.PublicKey)
	if err != nil || !ok {
		return fmt.Errorf("public key: %v", err)
	}
	keys.add(s.UserID(), m.ID, k)
	return nil
}

func reply(w http.ResponseWriter, err error) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	fmt.Fprint(w, "ok")
}

// virtualAuthenticator enables WebAuthn on the browser's page with a
// platform authenticator that answers at once.
func virtualAuthenticator(t *testing.T, ctx context.Context) webauthn.AuthenticatorID {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Call(cctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(cctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		}})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

// js evaluates an async expression on the page and returns its string.
func js(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	return run(t, ctx, expr, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
}

func TestStepUpWithPasskey(t *testing.T) {
	ctx := newBrowser(t)
	m, err := session.New(session.Config{Cookie: session.CookieConfig{AllowInsecure: true}})
	if err != nil {
		t.Fatal(err)
	}
	// localhost, not 127.0.0.1: an RP ID is a domain, and http://localhost
	// is a secure context, where WebAuthn runs.
	var s *server
	keys := &passkeys{keys: map[string]map[string]*ecdsa.PublicKey{}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stepUpHandler(strings.Replace(s.URL, "127.0.0.1", "localhost", 1), "localhost", keys).ServeHTTP(w, r)
	})
	s = serve(t, m.Handler(h), m, &syncBuffer{}, "")
	origin := strings.Replace(s.URL, "127.0.0.1", "localhost", 1)
	auth := virtualAuthenticator(t, ctx)
	do(t, ctx, "open page", chromedp.Navigate(origin+"/"), chromedp.WaitVisible(chromedp.ID("ready")))

	expect(t, ctx, `post('/login')`, "200 ok")
	expect(t, ctx, `get('/account/keys')`, "401 passkey required")
	expect(t, ctx, `register()`, "200 ok")
	expect(t, ctx, `get('/account/keys')`, "401 passkey required") // registering is not authenticating

	// A forged assertion (the authenticator signs with zeros) is refused,
	// and the route stays closed.
	bogus := true
	if _, err := chromedp.Call(ctx, webauthn.SetResponseOverrideBits, webauthn.SetResponseOverrideBitsParams{
		AuthenticatorID: auth, IsBogusSignature: &bogus}); err != nil {
		t.Fatal(err)
	}
	if got := js(t, ctx, `stepUp()`); !strings.HasPrefix(got, "403 assertion refused") {
		t.Fatalf("a bogus signature: %q, want 403", got)
	}
	expect(t, ctx, `get('/account/keys')`, "401 passkey required")
	expect(t, ctx, `get('/methods')`, "200 password")

	if _, err := chromedp.Call(ctx, webauthn.SetResponseOverrideBits, webauthn.SetResponseOverrideBitsParams{
		AuthenticatorID: auth}); err != nil {
		t.Fatal(err)
	}
	expect(t, ctx, `stepUp()`, "200 ok")
	expect(t, ctx, `get('/account/keys')`, "200 secret keys")
	expect(t, ctx, `get('/methods')`, "200 passkey,password")
	devices, err := m.Sessions(context.Background(), "alice")
	if err != nil || len(devices) != 1 || devices[0].Methods["passkey"].IsZero() || devices[0].Methods["password"].IsZero() {
		t.Fatalf("devices list: %+v, %v; want one session showing passkey and password", devices, err)
	}
}

// expect evaluates expr and requires its result.
func expect(t *testing.T, ctx context.Context, expr, want string) {
	t.Helper()
	if got := js(t, ctx, expr); got != want {
		t.Fatalf("%s = %q, want %q", expr, got, want)
	}
}
