package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkit/session"
)

// Store is a [session.Store] on a SQL database through database/sql. It
// also implements [session.UserIndex], [session.Rotator] and
// [session.Fleet], so devices, log-out-everywhere (one user's or
// everyone's), atomic renewal and MaxSessionsPerUser work, and
// [session.ExpiryNotifier] (its reaper reports the sessions that ended by
// expiry: see [Store.NotifyExpired]), and its
// [Store.Audit] method is a [session.Config] OnEvent sink that keeps an
// audit trail. Create it with [New], create its tables with
// [Store.Migrate], and stop its background work with [Store.Close].
//
// Every change to a session is one transaction that applies only while the
// session row is live and its generation current: concurrent requests
// changing distinct values all survive, and a logged-out or revoked session
// is never written back. A read-only request is one SELECT.
type Store struct {
	db  *sql.DB
	d   Dialect
	q   *queries
	now func() time.Time
	log *slog.Logger

	reapEvery   time.Duration
	reapBatch   int
	retention   time.Duration
	busyTimeout time.Duration
	timeout     time.Duration // per call, WithTimeout

	// wlock admits one SQLite write transaction of this process at a time,
	// so they queue here instead of spinning on SQLITE_BUSY.
	wlock chan struct{}

	audit auditQueue
	prep  prepared
	texts sync.Map // shape → the text of an Update statement

	// onExpired is NotifyExpired's callback, nil for none.
	onExpired atomic.Pointer[func(context.Context, session.IndexedRecord)]

	stop      context.CancelFunc
	stopCtx   context.Context
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Option configures a [Store].
type Option func(*Store)

// WithReapInterval sets how often the background reaper deletes the rows of
// sessions whose expiry and tombstone period have both passed (default one
// minute; zero or negative disables the reaper, expired rows are then only
// hidden).
func WithReapInterval(d time.Duration) Option { return func(s *Store) { s.reapEvery = d } }

// WithReapBatch bounds how many rows one reaper statement deletes (default
// 500), so that a mass expiry never holds long locks; the reaper loops
// until no expired row is left.
func WithReapBatch(n int) Option {
	return func(s *Store) {
		if n > 0 {
			s.reapBatch = n
		}
	}
}

// WithAuditRetention makes the reaper delete session_audit rows older than
// d, in bounded batches (default zero: keep them forever). Compliance rules
// usually name a period such as 90 days or a year.
func WithAuditRetention(d time.Duration) Option { return func(s *Store) { s.retention = d } }

// WithAuditQueue sets the capacity of the audit queue (default 4096
// events). When it is full, [Store.Audit] drops the event, counts it (see
// [Store.AuditDropped]) and logs the count.
func WithAuditQueue(n int) Option {
	return func(s *Store) {
		if n > 0 {
			s.audit.size = n
		}
	}
}

// WithLogger sets the logger for the reaper's and the audit writer's
// failures (default [slog.Default]).
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) {
		if l != nil {
			s.log = l
		}
	}
}

// WithClock sets the clock the store compares expiry times with (default
// [time.Now]). Tests use it with the Manager's Config.Clock.
func WithClock(now func() time.Time) Option {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// WithTimeout bounds each call the session Manager makes (Load, Create,
// Update, Delete, Rotate, Family, EndFamily, UserSessions, RevokeUser,
// RevokeAll, Count):
// one that has not finished after d fails with an error wrapping
// [session.ErrStore] and [context.DeadlineExceeded], so that a paused or
// unreachable database answers requests with a 5xx within d instead of
// holding them (and a pooled connection each) for as long as it hangs.
// Default five seconds; zero or negative leaves only the caller's context.
// It includes the wait for a row lock and, on SQLite, for the write lock
// (see [WithBusyTimeout]). Migrate, Reap and AuditEvents take the
// caller's context alone.
func WithTimeout(d time.Duration) Option { return func(s *Store) { s.timeout = d } }

// WithBusyTimeout sets how long a SQLite statement waits for another
// process's write lock before failing (default five seconds). The store
// sets it on the connection before each operation, so the DSN needs no
// pragma. Other dialects ignore it.
func WithBusyTimeout(d time.Duration) Option { return func(s *Store) { s.busyTimeout = d } }

// New returns a store on db, which speaks dialect d, and starts its reaper
// and audit writer. It creates no table: call [Store.Migrate]
// (or apply [Schema] yourself) before use, and [Store.Close] at shutdown.
// The caller keeps ownership of db; Close never closes it.
//
// db needs no special DSN option (no parseTime, multiStatements or
// pragmas): times are stored as integers and statements are sent one at a
// time. For SQLite, the store serializes its own writes and begins them
// with BEGIN IMMEDIATE on a dedicated connection, with the busy timeout set
// on that connection. An in-memory SQLite database (":memory:") is private
// to one connection, so New limits such a db to one connection
// (db.SetMaxOpenConns(1)); create the store before using db otherwise.
func New(db *sql.DB, d Dialect, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: New: nil *sql.DB")
	}
	if !d.valid() {
		return nil, fmt.Errorf("sqlstore: New: unknown dialect %v", d)
	}
	s := &Store{
		db: db, d: d, q: newQueries(d), now: time.Now, log: slog.Default(),
		reapEvery: time.Minute, reapBatch: 500, busyTimeout: 5 * time.Second, timeout: 5 * time.Second,
		wlock: make(chan struct{}, 1),
	}
	s.audit.size = 4096
	for _, o := range opts {
		o(s)
	}
	if d == SQLite {
		s.pinMemory()
	}
	s.stopCtx, s.stop = context.WithCancel(context.Background())
	s.audit.init()
	s.wg.Add(1)
	go s.auditWriter()
	if s.reapEvery > 0 {
		s.wg.Add(1)
		go s.reaper()
	}
	return s, nil
}

// pinMemory limits db to one connection when it is an in-memory SQLite
// database: every connection to ":memory:" opens a database of its own, so
// a pool of several would see tables and sessions come and go.
func (s *Store) pinMemory() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return // the first operation reports it
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, "PRAGMA database_list")
	if err != nil {
		return
	}
	defer rows.Close()
	for rows.Next() {
		var seq int
		var name string
		var file sql.NullString
		if rows.Scan(&seq, &name, &file) == nil && name == "main" && file.String == "" {
			// Set while this connection is held: the pool keeps it, and
			// closes any other idle one.
			s.db.SetMaxOpenConns(1)
		}
	}
}

// Close stops the reaper, writes the events still queued for the audit
// trail (waiting at most ten seconds) and returns the error of that last
// write, if any. It never closes the *sql.DB. The store remains usable for
// sessions; events audited after Close are dropped and counted.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.audit.close()
		s.stop() // the reaper stops; the audit writer drains first
		s.wg.Wait()
		s.prep.close()
		s.closeErr = s.audit.lastErr()
	})
	return s.closeErr
}

// querier is what *sql.DB, *sql.Tx and *sql.Conn have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// commitThen, returned by a transaction's function, commits the
// transaction and then reports err (a renewal refused after the revocation
// it carried).
type commitThen struct{ err error }

func (c *commitThen) Error() string { return c.err.Error() }
func (c *commitThen) Unwrap() error { return c.err }

// withConn runs fn outside a transaction: on the pool, or for SQLite on one
// connection whose busy timeout is set first.
func (s *Store) withConn(ctx context.Context, fn func(q querier) error) error {
	if s.d != SQLite {
		return fn(s.db)
	}
	conn, err := s.sqliteConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return fn(conn)
}

// sqliteConn takes a connection from the pool and sets its busy timeout.
func (s *Store) sqliteConn(ctx context.Context) (*sql.Conn, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	ms := strconv.FormatInt(s.busyTimeout.Milliseconds(), 10)
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = "+ms); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// tx runs fn in one transaction and commits it when fn returns nil (or a
// *commitThen). PostgreSQL and MySQL run at READ COMMITTED and lock the
// rows they change (SELECT ... FOR UPDATE); SQLite takes the database's
// write lock at BEGIN IMMEDIATE.
func (s *Store) tx(ctx context.Context, fn func(q querier) error) error {
	if s.d == SQLite {
		return s.sqliteTx(ctx, fn)
	}
	var opts *sql.TxOptions
	if s.d == MySQL {
		// No gap locks: concurrent writers of neighbouring keys never
		// deadlock.
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	err = fn(tx)
	var ct *commitThen
	if err != nil && !errors.As(err, &ct) {
		_ = tx.Rollback()
		return err
	}
	if cerr := tx.Commit(); cerr != nil {
		return cerr
	}
	return err
}

func (s *Store) sqliteTx(ctx context.Context, fn func(q querier) error) (err error) {
	select {
	case s.wlock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.wlock }()
	conn, err := s.sqliteConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	err = fn(conn)
	var ct *commitThen
	if err == nil || errors.As(err, &ct) {
		if _, cerr := conn.ExecContext(ctx, "COMMIT"); cerr == nil {
			return err
		} else {
			err = cerr
		}
	}
	// Roll back even when ctx is done; a connection that cannot is
	// discarded rather than returned to the pool inside a transaction.
	// An interrupted statement may already have rolled the transaction
	// back ("no transaction is active"), and a late interrupt may hit the
	// first ROLLBACK: try twice. Discarding the connection would lose an
	// in-memory database, so it is the last resort.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for try := 0; ; try++ {
		_, rerr := conn.ExecContext(rctx, "ROLLBACK")
		if rerr == nil || strings.Contains(rerr.Error(), "no transaction is active") {
			return err
		}
		if try == 1 {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			return err
		}
	}
}

// bound returns ctx limited to the store's per-call timeout (WithTimeout).
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

// wrap adds the operation to err, and ErrStore unless err is a verdict
// (not found, a tombstone, too many sessions).
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, session.ErrNotFound) || errors.Is(err, session.ErrTooManySessions) {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	return fmt.Errorf("sqlstore: %s: %w: %w", op, session.ErrStore, err)
}

// corrupt reports a reply whose content the store did not write.
func corrupt(what string) error { return fmt.Errorf("corrupt %s in session_records", what) }

// corruptRow reports a session row whose content the store did not write:
// it wraps [session.ErrCorrupt] (and, through wrap, [session.ErrStore]), so
// the Manager deletes the row (see purgeCorrupt) and starts the browser
// afresh.
func corruptRow(what string) error {
	return fmt.Errorf("%w: corrupt %s in session_records", session.ErrCorrupt, what)
}

// Ping checks that the database answers (PingContext, bounded by
// [WithTimeout]), for [session.Manager.Ping]. A failure wraps
// [session.ErrStore].
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.wrap("ping", s.db.PingContext(ctx))
}
