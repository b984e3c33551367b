package migrate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/gob"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
)

// ErrCorrupt is wrapped by an importer's error when a legacy cookie or
// record does not decode: a malformed or forged cookie, a record written
// with a codec the importer does not read, or a gob value of a type the
// application has not registered (gob.Register) in this binary.
var ErrCorrupt = errors.New("migrate: legacy session does not decode")

// scsRememberKey is where scs's RememberMe keeps its flag.
const scsRememberKey = "__rememberMe"

// SCSConfig describes the alexedwards/scs v2 deployment being replaced.
type SCSConfig struct {
	// Client reaches the Redis that scs's store (redisstore over redigo,
	// or goredisstore) kept its sessions in: any go-redis client, a single
	// node, Sentinel or Cluster. Required.
	Client redis.UniversalClient
	// Prefix is the store's key prefix. Default "scs:session:", the
	// prefix of redisstore.New and goredisstore.New.
	Prefix string
	// Cookie is scs's SessionManager.Cookie as the application set it:
	// Name (default "session", scs's default), Path (default "/"),
	// Domain, Secure, SameSite. The legacy cookie is expired with these.
	Cookie http.Cookie
	// UserKey is the key under which the scs application put the
	// logged-in user's ID (sm.Put(ctx, "userID", id)). Its value (a
	// string, an integer or a fmt.Stringer) becomes the user; a session
	// without it is adopted as an anonymous one. Required.
	UserKey string
	// HashTokenInStore mirrors scs's SessionManager.HashTokenInStore: the
	// Redis key is the SHA-256 of the token rather than the token.
	HashTokenInStore bool
}

// SCS returns an importer of scs v2 sessions kept in Redis with scs's
// default gob codec (scs.GobCodec: a gob of Deadline and Values).
//
// For a request carrying scs's cookie it reads the record, decodes it,
// and claims it with a DEL: of several requests racing with the same
// cookie, only the one whose DEL removed the record adopts it; the others
// find nothing. The user key becomes the user, scs's "remember me" flag
// [session.Imported.Remember], and every other value is kept under its key
// (re-encoded with the Manager's codec, JSON by default: a gob-registered
// struct comes back through [session.Get] into the same struct).
//
// A record that does not decode is left in Redis and reported as an error
// wrapping [ErrCorrupt] (register the application's gob types, and the
// next request adopts it); a token that is not one scs issues is reported
// as ErrCorrupt and its cookie expired; an unreachable Redis is an error
// that leaves the cookie alone, so a later request can adopt the session.
func SCS(cfg SCSConfig) (session.Importer, error) {
	if cfg.Client == nil {
		return nil, fmt.Errorf("%w: migrate.SCS: Client is nil", session.ErrInvalidConfig)
	}
	if cfg.UserKey == "" {
		return nil, fmt.Errorf("%w: migrate.SCS: UserKey is empty", session.ErrInvalidConfig)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "scs:session:"
	}
	if cfg.Cookie.Name == "" {
		cfg.Cookie.Name = "session"
	}
	if cfg.Cookie.Path == "" {
		cfg.Cookie.Path = "/"
	}
	return cfg.importSession, nil
}

// importSession is the Importer of cfg.
func (cfg SCSConfig) importSession(ctx context.Context, r *http.Request) (session.Imported, error) {
	c, err := r.Cookie(cfg.Cookie.Name)
	if err != nil {
		return session.Imported{}, nil
	}
	legacy := cfg.Cookie
	gone := session.Imported{Legacy: &legacy}
	if !scsToken(c.Value) {
		return gone, fmt.Errorf("%w: scs cookie is not a token scs issues", ErrCorrupt)
	}
	key := cfg.Prefix + c.Value
	if cfg.HashTokenInStore {
		sum := sha256.Sum256([]byte(c.Value))
		key = cfg.Prefix + base64.RawURLEncoding.EncodeToString(sum[:])
	}
	b, err := cfg.Client.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return gone, nil // expired, or adopted already
	}
	if err != nil {
		return session.Imported{}, fmt.Errorf("migrate: scs: load: %w", err)
	}
	deadline, values, err := decodeSCS(b)
	if err != nil {
		return session.Imported{}, err
	}
	if !deadline.IsZero() && !time.Now().Before(deadline) {
		return gone, nil // Redis's PEXPIREAT has not caught up yet
	}
	user, err := userID(values[cfg.UserKey])
	if err != nil {
		return session.Imported{}, fmt.Errorf("migrate: scs: key %q: %w", cfg.UserKey, err)
	}
	// The claim: one DEL removes the record, whichever request sends it
	// first; a request whose DEL removed nothing lost the race.
	n, err := cfg.Client.Del(ctx, key).Result()
	if err != nil {
		return session.Imported{}, fmt.Errorf("migrate: scs: delete: %w", err)
	}
	if n == 0 {
		return gone, nil
	}
	remember, _ := values[scsRememberKey].(bool)
	delete(values, cfg.UserKey)
	delete(values, scsRememberKey)
	return session.Imported{Legacy: &legacy, UserID: user, Values: values, Remember: remember}, nil
}

// decodeSCS decodes a record written by scs.GobCodec.
func decodeSCS(b []byte) (deadline time.Time, values map[string]any, err error) {
	var aux struct {
		Deadline time.Time
		Values   map[string]any
	}
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&aux); err != nil {
		return time.Time{}, nil, fmt.Errorf("%w: scs record: %w", ErrCorrupt, err)
	}
	if aux.Values == nil {
		aux.Values = map[string]any{}
	}
	return aux.Deadline, aux.Values, nil
}

// scsToken reports whether v looks like a token scs issues: base64url
// without padding (43 characters for scs's 32 random bytes), at most 128
// characters. Anything else is never looked up.
func scsToken(v string) bool {
	if v == "" || len(v) > 128 {
		return false
	}
	for i := range len(v) {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
