package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
)

// GorillaConfig describes the gorilla/sessions CookieStore being replaced.
type GorillaConfig struct {
	// Cookie is the legacy cookie: Name is the session name the
	// application passed to store.Get(r, name) (required); Path (default
	// "/"), Domain, Secure and SameSite are the store's Options. The
	// legacy cookie is expired with these.
	Cookie http.Cookie
	// KeyPairs are the keys given to sessions.NewCookieStore, in the same
	// order (hash key, block key, then older pairs). Required.
	KeyPairs [][]byte
	// MaxAge is the store's Options.MaxAge in seconds: securecookie
	// refuses cookies issued longer ago. Default 30 days, the default of
	// sessions.NewCookieStore.
	MaxAge int
	// UserKey is the key of session.Values under which the application put
	// the logged-in user's ID. Its value (a string, an integer or a
	// fmt.Stringer) becomes the user; a session without it is adopted as
	// an anonymous one. Required.
	UserKey string
	// Once, if set, claims a legacy cookie before it is adopted: it must
	// return true for the first call with an id and false for every later
	// call with the same id until at least until, across all instances of
	// the application. [RedisOnce] is one. Without it a cookie-only legacy
	// session cannot be consumed: the importer expires the cookie, but a
	// copy of it (another tab's request in flight, or a stolen cookie) is
	// adopted again until it expires, as it was accepted by the old
	// application until then.
	Once func(ctx context.Context, id string, until time.Time) (bool, error)
}

// Gorilla returns an importer of gorilla/sessions CookieStore sessions: it
// opens the cookie with securecookie and the application's keys, maps the
// user key to the user and every other value to a value of the same key
// (a key that is not a string is formatted with fmt.Sprint), and expires
// the cookie.
//
// A cookie-only session has no server record: nothing can be deleted on a
// server, so the importer cannot stop a copy of the cookie from being
// adopted twice unless [GorillaConfig.Once] is set. A cookie that does not
// open (forged, another key, past MaxAge) is an error wrapping [ErrCorrupt]
// and is expired.
func Gorilla(cfg GorillaConfig) (session.Importer, error) {
	if cfg.Cookie.Name == "" {
		return nil, fmt.Errorf("%w: migrate.Gorilla: Cookie.Name is empty", session.ErrInvalidConfig)
	}
	if len(cfg.KeyPairs) == 0 || len(cfg.KeyPairs[0]) == 0 {
		return nil, fmt.Errorf("%w: migrate.Gorilla: no KeyPairs", session.ErrInvalidConfig)
	}
	if cfg.UserKey == "" {
		return nil, fmt.Errorf("%w: migrate.Gorilla: UserKey is empty", session.ErrInvalidConfig)
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = 86400 * 30
	}
	if cfg.Cookie.Path == "" {
		cfg.Cookie.Path = "/"
	}
	codecs := securecookie.CodecsFromPairs(cfg.KeyPairs...)
	for _, c := range codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.MaxAge(cfg.MaxAge)
		}
	}
	g := &gorilla{cfg: cfg, codecs: codecs}
	return g.importSession, nil
}

type gorilla struct {
	cfg    GorillaConfig
	codecs []securecookie.Codec
}

// importSession is the Importer of g.
func (g *gorilla) importSession(ctx context.Context, r *http.Request) (session.Imported, error) {
	c, err := r.Cookie(g.cfg.Cookie.Name)
	if err != nil {
		return session.Imported{}, nil
	}
	legacy := g.cfg.Cookie
	gone := session.Imported{Legacy: &legacy}
	var raw map[any]any
	if err := securecookie.DecodeMulti(g.cfg.Cookie.Name, c.Value, &raw, g.codecs...); err != nil {
		return gone, fmt.Errorf("%w: gorilla cookie: %w", ErrCorrupt, err)
	}
	user, err := userID(raw[g.cfg.UserKey])
	if err != nil {
		return session.Imported{}, fmt.Errorf("migrate: gorilla: key %q: %w", g.cfg.UserKey, err)
	}
	if g.cfg.Once != nil {
		sum := sha256.Sum256([]byte(c.Value))
		until := time.Now().Add(time.Duration(g.cfg.MaxAge) * time.Second)
		first, err := g.cfg.Once(ctx, hex.EncodeToString(sum[:]), until)
		if err != nil {
			return session.Imported{}, fmt.Errorf("migrate: gorilla: claim: %w", err)
		}
		if !first {
			return gone, nil
		}
	}
	values := make(map[string]any, len(raw))
	for k, v := range raw {
		ks, ok := k.(string)
		if !ok {
			ks = fmt.Sprint(k)
		}
		if ks != g.cfg.UserKey {
			values[ks] = v
		}
	}
	return session.Imported{Legacy: &legacy, UserID: user, Values: values}, nil
}

// RedisOnce returns a [GorillaConfig.Once] that claims ids in Redis with
// SET NX under prefix (default "migrate:once:"), each kept until the legacy
// cookie it stands for can no longer open.
func RedisOnce(client redis.UniversalClient, prefix string) func(ctx context.Context, id string, until time.Time) (bool, error) {
	if prefix == "" {
		prefix = "migrate:once:"
	}
	return func(ctx context.Context, id string, until time.Time) (bool, error) {
		ttl := time.Until(until)
		if ttl < time.Second {
			ttl = time.Second
		}
		ok, err := client.SetNX(ctx, prefix+id, 1, ttl).Result()
		if err != nil {
			return false, fmt.Errorf("migrate: once: %w", err)
		}
		return ok, nil
	}
}
