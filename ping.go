package session

import (
	"context"
	"fmt"
)

// Pinger is implemented by stores that can check they reach their server:
// [RedisStore] (a PING, on a Cluster to every master), the SQL store
// (PingContext), the Memcached store (a version round trip) and the
// [MemoryStore] (ready until closed). Ping
// returns nil when the store can serve, and otherwise an error wrapping
// [ErrStore]. [Manager.Ping] calls it for readiness probes.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Ping reports whether m can serve sessions, for a readiness probe
// (/readyz): it calls the store's Ping, and in cookie mode ([CookieStore])
// the revocation list's (see [CookieStore.WithRevocations]); a cookie
// store without one needs no server and is always ready. A wrapper
// ([SealValues], otelsession.WrapStore, or yours) is looked through with
// its Unwrap() Store method until a [Pinger] is found; a store that
// implements neither is treated as ready. The error wraps [ErrStore] when
// the store says so.
func (m *Manager) Ping(ctx context.Context) error {
	st := m.store
	if c, ok := m.carrier.(*cookieCarrier); ok {
		st = c.revocations
	}
	p, ok := findStore[Pinger](st)
	if !ok {
		return nil // also a nil revocation list
	}
	if err := p.Ping(ctx); err != nil {
		return fmt.Errorf("session: ping: %w", err)
	}
	return nil
}
