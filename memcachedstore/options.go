package memcachedstore

import (
	"fmt"
	"time"

	"github.com/sessionkit/session"
)

var (
	// ErrContention is returned (wrapped) by a write that lost its
	// compare-and-swap more times than the retry bound (see WithMaxRetries):
	// the write was not applied, never silently overwritten. It matches
	// [session.ErrStore].
	ErrContention = fmt.Errorf("memcachedstore: compare-and-swap retries exhausted: %w", session.ErrStore)
	// ErrTooLarge is returned (wrapped) by a write whose session would not
	// fit in one Memcached item (see WithMaxItemSize); nothing is written.
	// It matches [session.ErrTooLarge] and [session.ErrStore].
	ErrTooLarge = fmt.Errorf("memcachedstore: session larger than the item size limit: %w: %w", session.ErrTooLarge, session.ErrStore)
)

// Defaults of the options.
const (
	// DefaultPrefix starts every key the store writes.
	DefaultPrefix = "session:"
	// DefaultMaxItemSize is Memcached's default item size limit (-I 1m).
	DefaultMaxItemSize = 1 << 20
	// DefaultMaxRetries bounds the compare-and-swap attempts of one write.
	DefaultMaxRetries = 100
	// DefaultMaxSessionLifetime is how long a user's item (Store) lives
	// after its last write, a login or a revocation of the user, and the
	// least a family's anchor lives after its last write.
	DefaultMaxSessionLifetime = 30 * 24 * time.Hour
)

// config is what the options set.
type config struct {
	prefix     string
	maxItem    int
	maxRetries int
	lifetime   time.Duration
}

// Option configures a store (see New and NewUnindexed).
type Option func(*config)

// WithKeyPrefix sets the prefix of every key the store writes (default
// DefaultPrefix), so several applications can share one Memcached. Any
// string works: one that is not a legal key fragment, or too long, is
// replaced by a short hash of itself. It has the name of the Redis store's
// option, [session.WithKeyPrefix].
func WithKeyPrefix(prefix string) Option {
	return func(c *config) { c.prefix = prefix }
}

// WithPrefix is [WithKeyPrefix].
//
// Deprecated: use [WithKeyPrefix], named as the Redis store's option; this
// name will be removed in a later minor release.
func WithPrefix(prefix string) Option { return WithKeyPrefix(prefix) }

// WithMaxItemSize sets the largest item the store writes, in bytes
// (default DefaultMaxItemSize): set it to the server's -I. A session that
// does not fit fails with ErrTooLarge.
func WithMaxItemSize(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxItem = n
		}
	}
}

// WithMaxRetries bounds the compare-and-swap attempts of one write
// (default DefaultMaxRetries); past it the write fails with ErrContention.
func WithMaxRetries(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxRetries = n
		}
	}
}

// WithMaxSessionLifetime sets how long a user's item (Store) lives after
// its last write, a login or a revocation of the user (default
// DefaultMaxSessionLifetime): no session of the user outlives it. A
// family's anchor (see Store.EndFamily) lives at least this long after its
// last write, and longer when its record can (its own absolute timeout).
// Set it to at least the longest absolute timeout.
func WithMaxSessionLifetime(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.lifetime = d
		}
	}
}
