package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// prepared holds the store's fixed MySQL statements prepared on the pool.
// go-sql-driver/mysql sends a statement with arguments as a prepare and an
// execute (two round trips) unless the DSN asks for client-side
// interpolation; a *sql.Stmt is prepared once per pooled connection and
// then costs one. Only statements whose text never changes are kept here,
// so the set stays small. After close, statements run unprepared; the
// statements close when the last call using one returns, so close never
// waits for a call stuck on the server.
type prepared struct {
	mu       sync.Mutex
	stmts    map[string]*sql.Stmt
	inFlight int
	closed   bool
}

// stmtFor returns query prepared on db, preparing it the first time, and a
// release function to call once the statement's rows are read. It returns
// nil (and a no-op release) when the store is closed or the prepare
// failed; the caller then runs the query on db.
func (p *prepared) stmtFor(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, func()) {
	p.mu.Lock()
	st, closed := p.stmts[query], p.closed
	p.mu.Unlock()
	if closed {
		return nil, func() {}
	}
	if st == nil {
		// Prepared outside the lock: a slow server delays only this call.
		fresh, err := db.PrepareContext(ctx, query)
		if err != nil {
			return nil, func() {} // the plain query reports the error
		}
		p.mu.Lock()
		if st = p.stmts[query]; st == nil && !p.closed {
			if p.stmts == nil {
				p.stmts = map[string]*sql.Stmt{}
			}
			p.stmts[query], st = fresh, fresh
			fresh = nil
		}
		p.mu.Unlock()
		if fresh != nil {
			_ = fresh.Close() // another call won, or the store closed
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || st == nil {
		return nil, func() {}
	}
	p.inFlight++
	return st, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.inFlight--; p.inFlight == 0 && p.closed {
			p.closeAll()
		}
	}
}

// close makes later calls run unprepared and closes the statements, at
// once or when the last call using one returns.
func (p *prepared) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.inFlight == 0 {
		p.closeAll()
	}
}

// closeAll closes the statements; p.mu is held.
func (p *prepared) closeAll() {
	for _, st := range p.stmts {
		_ = st.Close()
	}
	p.stmts = nil
}

// queryRow runs a one-row query on the pool, prepared on MySQL.
func (s *Store) queryRow(ctx context.Context, query string, args []any, dest ...any) error {
	if s.d != MySQL {
		return s.db.QueryRowContext(ctx, query, args...).Scan(dest...)
	}
	st, release := s.prep.stmtFor(ctx, s.db, query)
	defer release()
	if st == nil {
		return s.db.QueryRowContext(ctx, query, args...).Scan(dest...)
	}
	return st.QueryRowContext(ctx, args...).Scan(dest...)
}

// query runs a query on the pool, prepared on MySQL, and calls fn with its
// rows, which it closes.
func (s *Store) query(ctx context.Context, query string, args []any, fn func(*sql.Rows) error) error {
	var rows *sql.Rows
	var err error
	if s.d == MySQL {
		st, release := s.prep.stmtFor(ctx, s.db, query)
		defer release()
		if st != nil {
			rows, err = st.QueryContext(ctx, args...)
		} else {
			rows, err = s.db.QueryContext(ctx, query, args...)
		}
	} else {
		rows, err = s.db.QueryContext(ctx, query, args...)
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	if err := fn(rows); err != nil {
		return err
	}
	return rows.Close()
}

// exec runs a statement on the pool, prepared on MySQL.
func (s *Store) exec(ctx context.Context, query string, args ...any) error {
	if s.d == MySQL {
		st, release := s.prep.stmtFor(ctx, s.db, query)
		defer release()
		if st != nil {
			_, err := st.ExecContext(ctx, args...)
			return err
		}
	}
	_, err := s.db.ExecContext(ctx, query, args...)
	return err
}
