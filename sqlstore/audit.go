package sqlstore

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkit/session"
)

// auditBatch bounds the rows of one INSERT into session_audit.
const auditBatch = 256

// auditQueue is the bounded queue between Audit and the writer goroutine.
type auditQueue struct {
	size    int
	ch      chan session.Event
	quit    chan struct{}
	closed  atomic.Bool
	dropped atomic.Uint64
	logged  atomic.Int64 // unix ns of the last overflow log line

	mu  sync.Mutex
	err error // the last write's error
}

func (a *auditQueue) init() {
	a.ch = make(chan session.Event, a.size)
	a.quit = make(chan struct{})
}

func (a *auditQueue) close() {
	if a.closed.CompareAndSwap(false, true) {
		close(a.quit)
	}
}

func (a *auditQueue) setErr(err error) {
	a.mu.Lock()
	a.err = err
	a.mu.Unlock()
}

func (a *auditQueue) lastErr() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// Audit queues e for the append-only session_audit table; its signature is
// that of [session.Config] OnEvent, so the store is wired in with
//
//	session.New(session.Config{Store: st, OnEvent: st.Audit})
//
// It never blocks and never touches the database itself: a writer
// goroutine inserts the queued events in batches (one multi-row INSERT per
// batch), so a flood of forged cookies costs a few inserts, not one per
// request. When the queue is full (see [WithAuditQueue]) the event is
// dropped, counted ([Store.AuditDropped]) and the count logged at most once
// a second. [Store.Close] writes what is still queued.
//
// Each row holds at (unix milliseconds), kind (Event.Kind verbatim:
// "session.login", "session.rejected", ...), session (Event.Session, the
// keyed hash prefix of the token, never the token), user_id (the whole
// ID, never cut; on MySQL an ID longer than its 255-byte column, which no
// session of this store can have, is recorded as no user with
// "user_id_too_long" in the reason), ip, user_agent and reason (the
// acting request's device, and the event's detail), target_ip and
// target_user_agent (Event.TargetIP and Event.TargetUserAgent: the device
// a revocation ended, or the recorded device of a session the store
// dropped for expiry; ” otherwise). Every login of a user in the last 90
// days:
//
//	-- PostgreSQL (user_id is BYTEA)
//	SELECT to_timestamp(at / 1000.0) AS at, ip, user_agent FROM session_audit
//	WHERE user_id = convert_to($1, 'UTF8') AND kind = 'session.login'
//	  AND at >= (extract(epoch FROM now() - interval '90 days') * 1000)::bigint
//	ORDER BY at;
//	-- MySQL / MariaDB
//	SELECT FROM_UNIXTIME(at / 1000) AS at, ip, user_agent FROM session_audit
//	WHERE user_id = ? AND kind = 'session.login'
//	  AND at >= (UNIX_TIMESTAMP() - 90 * 86400) * 1000 ORDER BY at;
//	-- SQLite
//	SELECT datetime(at / 1000, 'unixepoch') AS at, ip, user_agent FROM session_audit
//	WHERE user_id = ? AND kind = 'session.login'
//	  AND at >= (unixepoch() - 90 * 86400) * 1000 ORDER BY at;
//
// or, from Go, [Store.AuditEvents].
func (s *Store) Audit(_ context.Context, e session.Event) {
	a := &s.audit
	if !a.closed.Load() {
		select {
		case a.ch <- e:
			return
		default:
		}
	}
	n := a.dropped.Add(1)
	now := time.Now().UnixNano()
	if last := a.logged.Load(); now-last >= int64(time.Second) && a.logged.CompareAndSwap(last, now) {
		s.log.Error("sqlstore: audit queue full or closed: events dropped", "dropped_total", n)
	}
}

// AuditDropped returns how many events [Store.Audit] could not write since
// the store was created: dropped because the queue was full or the store
// closed, or lost with an INSERT that failed (also logged).
func (s *Store) AuditDropped() uint64 { return s.audit.dropped.Load() }

// auditWriter inserts queued events in batches until Close, then drains
// the queue.
func (s *Store) auditWriter() {
	defer s.wg.Done()
	a := &s.audit
	batch := make([]session.Event, 0, auditBatch)
	for {
		select {
		case e := <-a.ch:
			batch = append(batch[:0], e)
			batch = fill(a.ch, batch)
			s.writeAudit(batch)
		case <-a.quit:
			deadline := time.Now().Add(10 * time.Second)
			for {
				batch = fill(a.ch, batch[:0])
				if len(batch) == 0 {
					return
				}
				if time.Now().After(deadline) {
					a.dropped.Add(uint64(len(batch)))
					continue
				}
				s.writeAudit(batch)
			}
		}
	}
}

// fill appends the events waiting in ch to batch, up to auditBatch.
func fill(ch chan session.Event, batch []session.Event) []session.Event {
	for len(batch) < auditBatch {
		select {
		case e := <-ch:
			batch = append(batch, e)
		default:
			return batch
		}
	}
	return batch
}

// writeAudit inserts batch in one statement.
func (s *Store) writeAudit(batch []session.Event) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	args := make([]any, 0, 9*len(batch))
	for _, e := range batch {
		at := e.Time
		if at.IsZero() {
			at = s.now()
		}
		user, reason := s.auditUser(e.UserID, e.Reason)
		args = append(args, at.UnixMilli(), text(e.Kind, 64), text(e.Session, 64), s.userArg(user),
			text(e.IP, 255), text(e.UserAgent, 1024), text(reason, 1024), text(e.TargetIP, 255), text(e.TargetUserAgent, 1024))
	}
	stmt := s.d.rebind(`INSERT INTO session_audit (at, kind, session, user_id, ip, user_agent, reason, target_ip, target_user_agent) VALUES ` +
		placeholders(9, len(batch)))
	err := s.writeConn(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, stmt, args...)
		return err
	})
	s.audit.setErr(s.wrap("audit", err))
	if err != nil {
		s.audit.dropped.Add(uint64(len(batch)))
		s.log.Error("sqlstore: audit insert failed: events lost", "events", len(batch), "error", err)
	}
}

// auditUserTooLong is added to the reason of an event whose user ID the
// MySQL schema cannot hold (see auditUser).
const auditUserTooLong = "user_id_too_long"

// auditUser returns the user_id and reason an event is audited with. The
// user ID is kept whole, never cut: a cut ID would hide the events from
// their user's AuditEvents and show them to the user whose ID is the
// prefix. PostgreSQL's BYTEA and SQLite's TEXT hold any ID the store
// accepts. MySQL's VARBINARY(255) holds every ID its sessions can have
// (Create and Rotate refuse longer ones with ErrTooLong); a longer one can
// only come from sessions kept elsewhere (a sealed-cookie Manager auditing
// here), and is recorded as no user, with auditUserTooLong in the reason,
// so the event stays in the trail without being attributed to anyone.
func (s *Store) auditUser(user, reason string) (string, string) {
	if s.d != MySQL || len(user) <= mysqlMaxLen {
		return user, reason
	}
	if reason == "" {
		return "", auditUserTooLong
	}
	return "", auditUserTooLong + ": " + reason
}

// text makes v valid UTF-8 of at most n bytes, cut at a character
// boundary, for a text column.
func text(v string, n int) string {
	return strings.ToValidUTF8(trunc(v, n), "\uFFFD")
}

// trunc cuts v to at most n bytes, at a character boundary when v is UTF-8.
func trunc(v string, n int) string {
	if len(v) <= n {
		return v
	}
	for n > 0 && n < len(v) && v[n]&0xC0 == 0x80 {
		n--
	}
	return v[:n]
}

// AuditEvents returns the audited events of userID since the given time,
// oldest first; kind, when not empty, selects one kind (such as
// [session.EventLogin]: "every login of this user in the last 90 days"):
//
//	events, err := st.AuditEvents(ctx, userID, session.EventLogin, time.Now().AddDate(0, 0, -90))
func (s *Store) AuditEvents(ctx context.Context, userID, kind string, since time.Time) ([]session.Event, error) {
	const op = "audit events"
	stmt := `SELECT at, kind, session, user_id, ip, user_agent, reason, target_ip, target_user_agent FROM session_audit
 WHERE user_id = ? AND at >= ?`
	args := []any{s.userArg(userID), since.UnixMilli()}
	if kind != "" {
		stmt += ` AND kind = ?`
		args = append(args, kind)
	}
	stmt = s.d.rebind(stmt + ` ORDER BY at, id`)
	var out []session.Event
	err := s.withConn(ctx, func(q querier) error {
		rows, err := q.QueryContext(ctx, stmt, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e session.Event
			var at int64
			var user []byte
			if err := rows.Scan(&at, &e.Kind, &e.Session, &user, &e.IP, &e.UserAgent, &e.Reason, &e.TargetIP, &e.TargetUserAgent); err != nil {
				return err
			}
			e.Time, e.UserID = time.UnixMilli(at), string(user)
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, s.wrap(op, err)
}
