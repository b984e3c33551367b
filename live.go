package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessionkit/session/internal/storekit"
)

// Long-lived connections: a WebSocket or Server-Sent Events handler outlives
// the request that opened it, and must learn when its session ends.

// errEnded words the error of [Session.Check] and the cause of a
// [Session.Watch] context once the session ended (logged out, revoked,
// expired, or renewed by another request); both wrap [ErrNotFound].
const errEnded = "session: check: session ended"

// Check re-reads the session from the store and returns nil while it is
// live, or an error wrapping [ErrNotFound] once it ended
// (logged out or revoked elsewhere, expired, its ID renewed by another
// request). It also keeps the session alive: once the touch interval has
// passed it moves the idle deadline, as a request would, so an open socket
// counts as activity. A store failure is an error wrapping [ErrStore]
// (reported as an [EventStoreError]) and says nothing about the session.
//
// A session that was never stored (an anonymous visitor with no values)
// has nothing to end: Check returns nil. Each call costs one store round
// trip (two when the touch is due); see [Session.Watch] to run it on an
// interval. On a [CookieStore] it checks the sealed deadlines and, with a
// revocation list, the user's revocations (one read), and cannot touch.
func (s *Session) Check(ctx context.Context) error {
	s.mu.Lock()
	defer s.unlock()
	s.load()
	if s.err != nil {
		return s.err
	}
	if s.key == "" {
		switch {
		case s.graced:
			return fmt.Errorf("%s: renewed by another request: %w", errEnded, ErrNotFound)
		case s.seenEnded:
			// Seen to end by an earlier call (a Save, a Check, a failed
			// renewal): it stays ended, so a Watch still closes.
			return fmt.Errorf("%s: %w", errEnded, ErrNotFound)
		}
		return nil
	}
	return s.m.carrier.check(ctx, s)
}

// check is Session.Check with a server store: the record is re-read.
func (c *storeCarrier) check(ctx context.Context, s *Session) error {
	m := c.m
	rec, err := s.storeLoad(ctx, s.key)
	if errors.Is(err, ErrNotFound) {
		// Renewed a moment ago: the legacy cookie may hold the renewal of
		// an instance of the earlier release (responseWriter.commit).
		if m.renewedRecently(err) {
			s.sawRenewal()
		}
		s.reset()
		return fmt.Errorf("%s: %w", errEnded, err)
	}
	if err != nil {
		return err
	}
	now := m.now()
	if kind := m.expiredReason(&rec.Meta, now); kind != "" {
		if err := s.storeDelete(ctx, "delete expired", s.key); err != nil {
			return err
		}
		s.queue(s.event(kind, s.token, rec.UserID, ""))
		s.reset()
		return fmt.Errorf("%s: %s: %w", errEnded, kind, ErrNotFound)
	}
	if now.Sub(rec.LastSeen) >= m.touchInterval(&rec.Meta) {
		meta := rec.Meta
		meta.LastSeen = now
		d := &Delta{LastSeen: now, Expires: m.expiry(&meta)}
		err := s.storeUpdate(ctx, "touch", s.key, d)
		if errors.Is(err, ErrNotFound) {
			s.reset()
			return fmt.Errorf("%s: %w", errEnded, err)
		}
		if err != nil {
			return err
		}
		storekit.ApplyMeta(d, &rec.Meta)
	}
	// Keep this request's own pending changes on top of the fresh record.
	s.rec = rec
	return nil
}

// Watch returns a context derived from ctx that is cancelled once the
// session ends, checked with [Session.Check] every interval (at least one
// second), with [context.Cause] an error wrapping [ErrNotFound]. A handler of
// a long-lived connection selects on its Done channel and closes the
// connection, so a logout or a revocation in another browser reaches an
// open socket within one interval. A failed check (the store unreachable)
// does not end the session: Watch tries again at the next tick. Call the
// returned cancel when the connection closes, to stop the checks. On the
// detached Session that [FromContext] returns outside [Manager.Handler], the
// context is done at once, its cause [ErrNoSession].
//
//	ctx, cancel := s.Watch(r.Context(), 10*time.Second)
//	defer cancel()
//	for {
//		select {
//		case <-ctx.Done():
//			return // logged out elsewhere, revoked or expired: close the socket
//		case msg := <-updates:
//			// write msg to the connection
//		}
//	}
func (s *Session) Watch(ctx context.Context, interval time.Duration) (context.Context, context.CancelFunc) {
	interval = max(interval, time.Second)
	ctx, cancel := context.WithCancelCause(ctx)
	if s.detached() {
		cancel(s.err) // nothing to watch: done at once, with the reason
		return ctx, func() { cancel(context.Canceled) }
	}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.Check(ctx); errors.Is(err, ErrNotFound) {
					cancel(err)
					return
				}
			}
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}
