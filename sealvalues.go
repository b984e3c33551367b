package session

import (
	"github.com/sessionkit/session/internal/sealing"
	"github.com/sessionkit/session/internal/valueseal"
)

// SealValues wraps a server store so that every session value is encrypted
// at rest: a dump of Redis, of a SQL table or of memory shows sealed bytes,
// never an OAuth token or personal data put in a session. Keys, user IDs,
// timestamps and device details stay readable (the store needs them for
// expiry and the per-user index).
//
// Each value is sealed with AES-256-GCM (see [CookieStore] for the choice)
// and bound to its session's store key and its own name: a value copied into
// another session, or renamed, does not open and reads as absent, with a
// warning logged through [slog.Default] (a store cannot reach the Manager's
// events). Keys rotate as for [CookieStore]: 32 random bytes each, the first
// seals, all open; a value sealed under an older key is re-sealed when it is
// next written.
//
// The result implements exactly the optional interfaces inner does
// ([UserIndex], [Fleet], [Rotator], [Refresher]: the wrapper is built by one
// helper that forwards each), and passes package storetest wherever inner
// does. A renewal (Rotator) moves the sealed values as they are; the
// wrapper adds a small sealed entry recording the renewal (about 150 bytes
// each time the ID changes), so the renewed session still opens them and
// no other session can. Refresher's one-step renewal cannot write that
// entry, so the wrapper's Refresh answers errors.ErrUnsupported and the
// Manager renews a header session with a Load and a Rotate instead. It
// returns an error wrapping [ErrInvalidConfig] for a missing, short or
// repeated key (an empty older key is skipped).
//
// Value names beginning with a NUL byte are reserved for those entries.
func SealValues(inner Store, keys ...[]byte) (Store, error) {
	ring, err := sealing.NewRing("sealed values", keys, ErrInvalidConfig)
	if err != nil {
		return nil, err
	}
	return valueseal.Wrap(inner, ring), nil
}
