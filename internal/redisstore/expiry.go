package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/session/internal/storekit"
)

// expiryWatch is the state of WithExpiryNotifications: the callback, the
// subscriptions and the goroutines that read them.
type expiryWatch struct {
	enabled   bool // WithExpiryNotifications was given
	configure bool // it may CONFIG SET notify-keyspace-events
	fn        atomic.Pointer[func(context.Context, storekit.IndexedRecord)]

	mu      sync.Mutex
	started bool
	closed  bool
	stop    context.CancelFunc
	wg      sync.WaitGroup
	setup   atomic.Pointer[error] // the last setup failure, nil once set up
}

// WithExpiryNotifications makes the store report the sessions Redis expires
// (session.ExpiryNotifier): it subscribes to the keyevent "expired"
// notifications of the client's database (__keyevent@<db>__:expired; on a
// Cluster, on every master known when the Manager registers, db 0) once a
// Manager registers, and for each session hash that expired, reads the
// session's expiry tombstone and reports the session's key, its creation,
// last-seen and expiry times and its own limits. Redis keeps nothing else
// once a key expires: the report carries no user ID and no device (the
// Manager's event has UserID, TargetIP and TargetUserAgent empty), and a
// session that RevokeUser ended without reaching it (one its index missed)
// is reported as expired. A session RevokeAll ended is not reported.
//
// Redis sends these notifications only when notify-keyspace-events holds
// "E" and "x" (or "A"). With configure, the store adds them with CONFIG
// SET, keeping the flags already set (on a Cluster, on each master; a
// replica promoted later needs them in its own configuration). Managed
// Redis services that refuse CONFIG (ElastiCache, Memorystore, Azure
// Cache...) set the flags in their parameter group or console: pass false
// there. Until the setup succeeds (the store retries), Ping fails with its
// error.
//
// Redis publishes to every subscriber: each application instance whose
// store has this option reports each expiry. Enable it on one instance, or
// count events by Event.Session. Notifications are fire and forget: an
// expiry while the subscription reconnects is not reported. Close stops
// the subscription.
func WithExpiryNotifications(configure bool) Option {
	return func(s *Store) {
		s.expiry.enabled, s.expiry.configure = true, configure
	}
}

// NotifyExpired implements session.ExpiryNotifier when the store has
// WithExpiryNotifications (without it, it does nothing): the first non-nil
// fn starts the subscription, in the background. A later call replaces
// fn; nil stops the calls (the subscription stays until Close).
func (s *Store) NotifyExpired(fn func(ctx context.Context, r storekit.IndexedRecord)) {
	w := &s.expiry
	if !w.enabled {
		return
	}
	if fn == nil {
		w.fn.Store(nil)
		return
	}
	w.fn.Store(&fn)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started || w.closed {
		return
	}
	w.started = true
	ctx, cancel := context.WithCancel(context.Background())
	w.stop = cancel
	err := errors.New("expiry notifications: not subscribed yet")
	w.setup.Store(&err)
	w.wg.Add(1)
	go s.watchExpiry(ctx)
}

// Close stops the subscription of WithExpiryNotifications and waits for its
// goroutines. The client stays the caller's: Close never closes it. The
// store remains usable; it reports no more expiries.
func (s *Store) Close() error {
	w := &s.expiry
	w.mu.Lock()
	w.closed = true
	if w.stop != nil {
		w.stop()
	}
	w.mu.Unlock()
	w.wg.Wait()
	return nil
}

// expirySetupErr is the error Ping reports while the subscription of
// WithExpiryNotifications is not set up, nil otherwise.
func (s *Store) expirySetupErr() error {
	if p := s.expiry.setup.Load(); p != nil {
		return *p
	}
	return nil
}

// watchExpiry sets the subscription up (retrying with a growing pause until
// it succeeds or the store closes), then reads it until Close.
func (s *Store) watchExpiry(ctx context.Context) {
	w := &s.expiry
	defer w.wg.Done()
	pause := 100 * time.Millisecond
	for {
		subs, err := s.subscribeExpired(ctx)
		if err == nil {
			w.setup.Store(nil)
			s.readExpired(ctx, subs)
			return
		}
		err = fmt.Errorf("expiry notifications: %w", err)
		w.setup.Store(&err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
			pause = min(2*pause, 10*time.Second)
		}
	}
}

// nodes returns the clients to configure and subscribe: every master of a
// Cluster, or the store's client.
func (s *Store) nodes(ctx context.Context) ([]redis.UniversalClient, error) {
	cc, ok := s.client.(*redis.ClusterClient)
	if !ok {
		return []redis.UniversalClient{s.client}, nil
	}
	var mu sync.Mutex
	var out []redis.UniversalClient
	err := cc.ForEachMaster(ctx, func(_ context.Context, c *redis.Client) error {
		mu.Lock()
		out = append(out, c)
		mu.Unlock()
		return nil
	})
	return out, err
}

// subscribeExpired configures the nodes if asked, and subscribes to their
// expired keyevents; the subscriptions are confirmed when it returns.
func (s *Store) subscribeExpired(ctx context.Context) ([]*redis.PubSub, error) {
	nodes, err := s.nodes(ctx)
	if err != nil {
		return nil, err
	}
	var subs []*redis.PubSub
	for _, n := range nodes {
		if s.expiry.configure {
			if err := configureExpired(ctx, n); err != nil {
				closeAll(subs)
				return nil, err
			}
		}
		ps := n.Subscribe(ctx, expiredChannel(n))
		if _, err := ps.Receive(ctx); err != nil { // the subscription's confirmation
			ps.Close()
			closeAll(subs)
			return nil, fmt.Errorf("subscribe: %w", err)
		}
		subs = append(subs, ps)
	}
	return subs, nil
}

// closeAll closes subscriptions.
func closeAll(subs []*redis.PubSub) {
	for _, ps := range subs {
		_ = ps.Close()
	}
}

// expiredChannel is the keyevent channel of expirations in c's database.
func expiredChannel(c redis.UniversalClient) string {
	db := 0
	if o, ok := c.(interface{ Options() *redis.Options }); ok {
		db = o.Options().DB
	}
	return "__keyevent@" + strconv.Itoa(db) + "__:expired"
}

// configureExpired adds "E" and "x" to c's notify-keyspace-events, keeping
// the flags already set.
func configureExpired(ctx context.Context, c redis.UniversalClient) error {
	cur, err := c.ConfigGet(ctx, "notify-keyspace-events").Result()
	if err != nil {
		return fmt.Errorf("CONFIG GET notify-keyspace-events: %w", err)
	}
	flags := cur["notify-keyspace-events"]
	want := flags
	if !strings.Contains(want, "E") {
		want += "E"
	}
	if !strings.ContainsAny(want, "xA") {
		want += "x"
	}
	if want == flags {
		return nil
	}
	if err := c.ConfigSet(ctx, "notify-keyspace-events", want).Err(); err != nil {
		return fmt.Errorf("CONFIG SET notify-keyspace-events %s: %w", want, err)
	}
	return nil
}

// readExpired reports the expired keys the subscriptions deliver until ctx
// ends, then closes them.
func (s *Store) readExpired(ctx context.Context, subs []*redis.PubSub) {
	defer closeAll(subs)
	msgs := make(chan string)
	var readers sync.WaitGroup
	for _, ps := range subs {
		readers.Add(1)
		go func(ch <-chan *redis.Message) {
			defer readers.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case m, ok := <-ch:
					if !ok {
						return
					}
					select {
					case msgs <- m.Payload:
					case <-ctx.Done():
						return
					}
				}
			}
		}(ps.Channel())
	}
	defer readers.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case k := <-msgs:
			s.reportExpired(ctx, k)
		}
	}
}

// reportExpired reports the session whose hash redisKey was, if it is one
// of this store's session hashes and its tombstone says it expired (not
// renewed, deleted or revoked meanwhile, nor ended by RevokeAll).
func (s *Store) reportExpired(ctx context.Context, redisKey string) {
	fn := s.expiry.fn.Load()
	if fn == nil {
		return
	}
	key, ok := s.sessionOf(redisKey)
	if !ok {
		return
	}
	var tomb, all *redis.StringCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		tomb = p.Get(ctx, s.tombKey(key))
		all = p.Get(ctx, s.allKey())
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return // unreachable: the expiry goes unreported
	}
	t, ok := parseTomb(tomb.Val(), time.UnixMilli(1<<50)) // any expiry has passed
	if !ok || t.Reason != storekit.EndExpired {
		return
	}
	if c, err := strconv.ParseInt(all.Val(), 10, 64); err == nil && t.Meta.CreatedAt.UnixMilli() < c {
		return // ended by RevokeAll
	}
	m := t.Meta
	m.Expires = t.At
	(*fn)(ctx, storekit.IndexedRecord{Key: key, Meta: m})
}

// sessionOf returns the session key of a session hash's Redis key
// (prefix{key}), and false for any other key of the store or another's.
func (s *Store) sessionOf(redisKey string) (string, bool) {
	rest, ok := strings.CutPrefix(redisKey, s.prefix+"{")
	if !ok {
		return "", false
	}
	key, ok := strings.CutSuffix(rest, "}")
	if !ok || key == "" || strings.ContainsAny(key, "{}") {
		return "", false
	}
	return key, true
}
