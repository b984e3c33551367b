package memcachedstore

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/session"
)

// itemOverhead is what Memcached counts in an item besides key and value
// (header, CAS, suffix), rounded up.
const itemOverhead = 64

// base is what both stores share: one item per session, read and merged
// with gets/cas. Store adds the per-user index on top; UnindexedStore
// exposes it as it is.
type base struct {
	client     *memcache.Client
	prefix     string
	maxItem    int
	maxRetries int
	lifetime   time.Duration
	now        func() time.Time
	cas        casCache
	// hook, when set (tests), runs at named points between a read and its
	// cas, so a test can land a concurrent write exactly there.
	hook func(point string)
}

// newBase returns a base over client with opts applied.
func newBase(client *memcache.Client, opts []Option) *base {
	c := config{prefix: DefaultPrefix, maxItem: DefaultMaxItemSize, maxRetries: DefaultMaxRetries, lifetime: DefaultMaxSessionLifetime}
	for _, o := range opts {
		o(&c)
	}
	s := &base{client: client, prefix: keyPrefix(c.prefix), maxItem: c.maxItem, maxRetries: c.maxRetries, lifetime: c.lifetime, now: time.Now}
	s.cas.seed = maphash.MakeSeed()
	return s
}

// at runs the test hook at point.
func (s *base) at(point string) {
	if s.hook != nil {
		s.hook(point)
	}
}

// storeErr wraps a failure of the server or of the data in session.ErrStore.
func storeErr(op string, err error) error {
	if errors.Is(err, session.ErrStore) {
		return fmt.Errorf("memcachedstore: %s: %w", op, err)
	}
	return fmt.Errorf("memcachedstore: %s: %w: %w", op, session.ErrStore, err)
}

// notFound is the error of an operation on a key with no live record.
func notFound(op string) error {
	return fmt.Errorf("memcachedstore: %s: %w", op, session.ErrNotFound)
}

// ctxErr reports a done context as the operation's error.
func ctxErr(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memcachedstore: %s: %w", op, err)
	}
	return nil
}

// get reads the item under mkey with its CAS token: nil, nil when there is
// none. A first call in a write may take the token its Load left (see
// casCache) and save a round trip.
func (s *base) get(ctx context.Context, op, mkey string, cached bool) (*memcache.Item, error) {
	if cached {
		if it := s.cas.take(mkey); it != nil {
			return it, nil
		}
	}
	if err := ctxErr(ctx, op); err != nil {
		return nil, err
	}
	it, err := s.client.Get(mkey)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil, nil
	}
	if err != nil {
		return nil, storeErr(op, err)
	}
	return it, nil
}

// checkFunc checks, at now, that r (stored under key, live by its own
// item) is live: that its family's anchor names key when r needs one (see
// family.go), and for Store that its user's generation is current. It
// reads what it needs in one round trip and returns nil and the anchor it
// read (nil when r needs none), for a write that must keep that anchor
// alive as long as r; or the error to report.
type checkFunc func(ctx context.Context, op, key string, r *session.Record, now time.Time) (*anchorRef, error)

// decodeItem decodes a session's item (a record or a tombstone), wrapping
// a corrupt value in session.ErrStore and session.ErrCorrupt (the Manager
// then deletes it and starts the browser afresh).
func decodeItem(op string, it *memcache.Item) (item, error) {
	d, err := decode(it.Value)
	if err == nil && d.rec == nil && d.tomb == nil {
		err = fmt.Errorf("%w: not a session", errCorrupt)
	}
	if err != nil {
		return item{}, storeErr(op, fmt.Errorf("%w: %w", session.ErrCorrupt, err))
	}
	return d, nil
}

// ended returns the error Load reports for a decoded item that holds no
// live record at now (a tombstone, or a record past its Expires), or nil
// for a live record.
func ended(d item, now time.Time) error {
	if t := d.tomb; t != nil {
		if !now.Before(t.Until) {
			return session.ErrNotFound
		}
		tc := t.Tombstone
		return &tc
	}
	r := d.rec
	if now.Before(r.Expires) {
		return nil
	}
	if !now.Before(r.Expires.Add(r.Linger)) {
		return session.ErrNotFound
	}
	return &session.Tombstone{Reason: session.EndExpired, At: r.Expires, Meta: tombMeta(&r.Meta)}
}

// tombMeta keeps the fields of m a tombstone may hold.
func tombMeta(m *session.Meta) session.Meta {
	return session.Meta{CreatedAt: m.CreatedAt, LastSeen: m.LastSeen, IdleTimeout: m.IdleTimeout, AbsoluteTimeout: m.AbsoluteTimeout}
}

// load reads the record under key, with check (when not nil) run on a live record.
func (s *base) load(ctx context.Context, key string, check checkFunc) (*session.Record, error) {
	mkey := s.itemKey(key)
	it, err := s.get(ctx, "load", mkey, false)
	if err != nil {
		return nil, err
	}
	if it == nil {
		return nil, notFound("load")
	}
	d, err := decodeItem("load", it)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if err := ended(d, now); err != nil {
		return nil, fmt.Errorf("memcachedstore: load: %w", err)
	}
	if check != nil {
		if _, err := check(ctx, "load", key, d.rec, now); err != nil {
			return nil, err
		}
	}
	s.cas.put(mkey, it)
	return d.rec, nil
}

// create is Create.
func (s *base) create(ctx context.Context, key string, r *session.Record) error {
	if err := ctxErr(ctx, "create"); err != nil {
		return err
	}
	now := s.now()
	if !now.Before(r.Expires) {
		return s.destroy(ctx, key)
	}
	mkey := s.itemKey(key)
	it, err := s.recordItem("create", mkey, r, now)
	if err != nil {
		return err
	}
	if err := s.client.Set(it); err != nil {
		return storeErr("create", err)
	}
	if !needsAnchor(key, r) {
		return nil
	}
	// A renewed or header session's record is live only once its family's
	// anchor names it; if the family was ended, it must not stay.
	if err := s.nameLive(ctx, "create", r.Family, key, r, nil); err != nil {
		if derr := s.removeNew(mkey); derr != nil {
			return derr
		}
		return err
	}
	return nil
}

// recordItem encodes r as the item under mkey, expiring when its tombstone
// would be forgotten (Expires plus Linger).
func (s *base) recordItem(op, mkey string, r *session.Record, now time.Time) (*memcache.Item, error) {
	v := encodeRecord(make([]byte, 0, 128), r)
	if len(mkey)+len(v)+itemOverhead > s.maxItem {
		return nil, fmt.Errorf("memcachedstore: %s: %d bytes, limit %d: %w", op, len(v), s.maxItem, ErrTooLarge)
	}
	exp, _ := expiration(r.Expires.Add(max(r.Linger, 0)), now)
	return &memcache.Item{Key: mkey, Value: v, Expiration: exp}, nil
}

// tombItem encodes a tombstone of reason at at, kept for linger, as the
// item under mkey. A tombstone with no linger reads as not found and
// expires at once (it replaces the record through cas, which a delete
// cannot do).
func tombItem(mkey string, t *tomb, now time.Time) *memcache.Item {
	exp, ok := expiration(t.Until, now)
	if !ok {
		exp = 1
	}
	return &memcache.Item{Key: mkey, Value: encodeTomb(make([]byte, 0, 64), t), Expiration: exp}
}

// update merges d into the record under key, with check (when not nil) run on the record before the
// cas.
func (s *base) update(ctx context.Context, key string, d *session.Delta, check checkFunc) error {
	mkey := s.itemKey(key)
	for attempt := range s.maxRetries {
		it, err := s.get(ctx, "update", mkey, attempt == 0)
		if err != nil {
			return err
		}
		if it == nil {
			return notFound("update")
		}
		dec, err := decodeItem("update", it)
		if err != nil {
			return err
		}
		now := s.now()
		if ended(dec, now) != nil {
			return notFound("update")
		}
		r := dec.rec
		var aref *anchorRef
		if check != nil {
			if aref, err = check(ctx, "update", key, r, now); err != nil {
				if errors.Is(err, session.ErrNotFound) {
					return notFound("update")
				}
				return err
			}
		}
		d.Apply(r)
		var next *memcache.Item
		if now.Before(r.Expires) {
			if next, err = s.recordItem("update", mkey, r, now); err != nil {
				return err
			}
			if aref != nil {
				err := s.keepAnchor(ctx, "update", key, r, aref, now)
				if errors.Is(err, memcache.ErrCASConflict) {
					if err := s.backoff(ctx, "update", attempt); err != nil {
						return err
					}
					continue // renamed, ended or extended meanwhile: check again
				}
				if err != nil {
					return err
				}
			}
		} else { // a past Expires ends the record
			t := &tomb{Until: r.Expires.Add(max(r.Linger, 0))}
			t.Reason, t.At, t.Meta = session.EndExpired, r.Expires, tombMeta(&r.Meta)
			next = tombItem(mkey, t, now)
		}
		next.CasID = it.CasID
		if err := ctxErr(ctx, "update"); err != nil {
			return err
		}
		s.at("update")
		err = s.client.CompareAndSwap(next)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, memcache.ErrCASConflict):
			if err := s.backoff(ctx, "update", attempt); err != nil {
				return err
			}
		case errors.Is(err, memcache.ErrCacheMiss), errors.Is(err, memcache.ErrNotStored):
			return notFound("update") // gone in between: never re-created
		default:
			return storeErr("update", err)
		}
	}
	return fmt.Errorf("memcachedstore: update: %d attempts: %w", s.maxRetries, ErrContention)
}

// backoff waits a little, more after each lost cas, with jitter, so that
// contending writers spread out.
func (s *base) backoff(ctx context.Context, op string, attempt int) error {
	limit := time.Duration(min(attempt+1, 20)) * 100 * time.Microsecond
	t := time.NewTimer(rand.N(limit) + time.Microsecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctxErr(ctx, op)
	case <-t.C:
		return nil
	}
}

// destroy is Delete.
func (s *base) destroy(ctx context.Context, key string) error {
	_, _, err := s.end(ctx, "delete", key, nil, nil)
	return err
}

// end replaces the record under key, if it is live by its own item and
// accept (when not nil) takes it, by a destroyed tombstone kept for the
// record's Linger (gets/cas, retried on conflict), and returns the record
// it ended: Delete, and EndFamily's end of the family's record. It returns
// nil, and writes nothing, when there was no such record, with the item it
// found decoded (for EndFamily to look at a tombstone). A corrupt item
// holds no session: it is removed. first, when not nil, is the item under
// key already read with its CAS token; without it the first attempt may
// take the token a Load left (see casCache).
func (s *base) end(ctx context.Context, op, key string, first *memcache.Item, accept func(r *session.Record, now time.Time) error) (*session.Record, item, error) {
	mkey := s.itemKey(key)
	for attempt := range s.maxRetries {
		it := first
		first = nil
		if it == nil {
			var err error
			if it, err = s.get(ctx, op, mkey, attempt == 0); err != nil {
				return nil, item{}, err
			}
		}
		if it == nil {
			return nil, item{}, nil
		}
		now := s.now()
		dec, err := decode(it.Value)
		if err == nil && dec.rec == nil && dec.tomb == nil {
			err = errCorrupt
		}
		if err != nil {
			if err := ctxErr(ctx, op); err != nil {
				return nil, item{}, err
			}
			if err := s.client.Delete(mkey); err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
				return nil, item{}, storeErr(op, err)
			}
			return nil, item{}, nil
		}
		if ended(dec, now) != nil {
			return nil, dec, nil
		}
		if accept != nil {
			if err := accept(dec.rec, now); err != nil {
				if errors.Is(err, session.ErrNotFound) {
					return nil, dec, nil
				}
				return nil, item{}, err
			}
		}
		t := &tomb{Until: now.Add(max(dec.rec.Linger, 0))}
		t.Reason, t.At = session.EndDestroyed, now
		next := tombItem(mkey, t, now)
		next.CasID = it.CasID
		if err := ctxErr(ctx, op); err != nil {
			return nil, item{}, err
		}
		s.at("delete")
		err = s.client.CompareAndSwap(next)
		switch {
		case err == nil:
			return dec.rec, dec, nil
		case errors.Is(err, memcache.ErrCacheMiss), errors.Is(err, memcache.ErrNotStored):
			return nil, item{}, nil
		case errors.Is(err, memcache.ErrCASConflict):
			if err := s.backoff(ctx, op, attempt); err != nil {
				return nil, item{}, err
			}
		default:
			return nil, item{}, storeErr(op, err)
		}
	}
	return nil, item{}, fmt.Errorf("memcachedstore: %s: %d attempts: %w", op, s.maxRetries, ErrContention)
}

// ping checks ctx, then asks every server for its version.
func (b *base) ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return storeErr("ping", err)
	}
	if err := b.client.Ping(); err != nil {
		return storeErr("ping", err)
	}
	return nil
}
