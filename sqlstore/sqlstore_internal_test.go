package sqlstore

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sessionkit/session"
)

func TestRebind(t *testing.T) {
	q := "SELECT a FROM t WHERE b = ? AND c IN (?, ?)"
	if got := Postgres.rebind(q); got != "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)" {
		t.Errorf("postgres: %s", got)
	}
	for _, d := range []Dialect{MySQL, SQLite} {
		if got := d.rebind(q); got != q {
			t.Errorf("%v: %s", d, got)
		}
	}
}

func TestPlaceholders(t *testing.T) {
	if got := placeholders(3, 2); got != "(?, ?, ?), (?, ?, ?)" {
		t.Errorf("placeholders: %s", got)
	}
	if got := list(3); got != "?, ?, ?" {
		t.Errorf("list: %s", got)
	}
}

func TestNewRefusesBadArguments(t *testing.T) {
	if _, err := New(nil, Postgres); err == nil {
		t.Error("nil db accepted")
	}
	if got := Dialect(9).String(); got != "Dialect(9)" {
		t.Errorf("String: %s", got)
	}
}

// TestSchemaIsIdempotent: every statement of every dialect can run again.
func TestSchemaIsIdempotent(t *testing.T) {
	for _, d := range []Dialect{Postgres, MySQL, SQLite} {
		stmts := ddl(d)
		if len(stmts) == 0 {
			t.Fatalf("%v: no DDL", d)
		}
		for _, st := range stmts {
			if !strings.Contains(st, "IF NOT EXISTS") && !strings.HasPrefix(st, "CREATE OR REPLACE") {
				t.Errorf("%v: not idempotent: %.60s", d, st)
			}
		}
		for _, table := range []string{"session_records", "session_values", "session_users", "session_audit"} {
			if !strings.Contains(Schema(d), "CREATE TABLE IF NOT EXISTS "+table) {
				t.Errorf("%v: no table %s", d, table)
			}
		}
	}
}

// TestCapVictimsFollowsRotation: the cap rule is session.Rotation's: the
// least recently seen sessions other than OldKey, or ErrTooManySessions.
func TestCapVictimsFollowsRotation(t *testing.T) {
	now := time.Now()
	live := func() []session.IndexedRecord {
		return []session.IndexedRecord{
			{Key: "b", Meta: session.Meta{LastSeen: now.Add(-time.Minute)}},
			{Key: "old", Meta: session.Meta{LastSeen: now.Add(-time.Hour)}},
			{Key: "a", Meta: session.Meta{LastSeen: now.Add(-2 * time.Minute)}},
			{Key: "c", Meta: session.Meta{LastSeen: now}},
		}
	}
	v, err := (&session.Rotation{OldKey: "old", MaxSessions: 2}).Victims(live())
	if err != nil || len(v) != 2 || v[0].Key != "a" || v[1].Key != "b" {
		t.Errorf("evict: %v %v", v, err)
	}
	v, err = (&session.Rotation{OldKey: "old", MaxSessions: 4}).Victims(live())
	if err != nil || len(v) != 0 {
		t.Errorf("under the cap: %v %v", v, err)
	}
	_, err = (&session.Rotation{MaxSessions: 2, RefuseNew: true}).Victims(live())
	if !errors.Is(err, session.ErrTooManySessions) {
		t.Errorf("refuse: %v", err)
	}
}

func TestTextBoundsAndRepairs(t *testing.T) {
	s := strings.Repeat("é", 40) // 80 bytes
	got := text(s, 63)
	if len(got) > 63 || !utf8.ValidString(got) {
		t.Errorf("cut inside a character: %q", got)
	}
	if got := text("a\xffb", 10); !utf8.ValidString(got) || !strings.HasPrefix(got, "a") {
		t.Errorf("invalid UTF-8 kept: %q", got)
	}
}

// TestRowCheck: a row's state decides what Load reports.
func TestRowCheck(t *testing.T) {
	now := time.Now().UnixNano()
	sec := int64(time.Second)
	cases := []struct {
		name   string
		w      row
		reason string // "" live, "-" plain not found, "corrupt"
	}{
		{"live", row{expires: now + sec, purge: now + 2*sec}, ""},
		{"expired lingering", row{expires: now - sec, linger: 2 * sec, purge: now + sec}, session.EndExpired},
		{"expired gone", row{expires: now - 2*sec, linger: sec, purge: now - sec}, "-"},
		// An Update leaves purge_ns up to purgeSlack late: the linger ends
		// at expires + linger all the same.
		{"expired gone, purge slack left", row{expires: now - 2*sec, linger: sec, purge: now + sec}, "-"},
		{"destroyed", row{state: stateDestroyed, purge: now + sec}, session.EndDestroyed},
		{"rotated gone", row{state: stateRotated, purge: now}, "-"},
		{"revoked by generation", row{user: []byte("u"), gen: 1, cur: 2, expires: now + sec, purge: now + sec}, session.EndRevoked},
		{"unknown state", row{state: 7, expires: now + sec}, "corrupt"},
		{"negative generation", row{gen: -1, expires: now + sec}, "corrupt"},
	}
	for _, c := range cases {
		err := c.w.check(now)
		var tomb *session.Tombstone
		switch c.reason {
		case "":
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
		case "-":
			if !errors.Is(err, session.ErrNotFound) || errors.As(err, &tomb) {
				t.Errorf("%s: %v", c.name, err)
			}
		case "corrupt":
			if err == nil || errors.Is(err, session.ErrNotFound) {
				t.Errorf("%s: %v", c.name, err)
			}
		default:
			if !errors.As(err, &tomb) || tomb.Reason != c.reason {
				t.Errorf("%s: %v", c.name, err)
			}
		}
	}
}

func TestArrayLiteral(t *testing.T) {
	if got := arrayLiteral([]string{`a`, `b"c`, `d\e`, ``}); got != `{"a","b\"c","d\\e",""}` {
		t.Errorf("arrayLiteral: %s", got)
	}
	if got := arrayLiteral(nil); got != `{}` {
		t.Errorf("empty: %s", got)
	}
}

// TestUpdateTextMatchesArgs: for every shape of delta, the cached text of
// Update's statement has exactly one placeholder per argument, and shapes
// that differ get different texts.
func TestUpdateTextMatchesArgs(t *testing.T) {
	for _, d := range []Dialect{Postgres, MySQL, SQLite} {
		s := &Store{d: d, q: newQueries(d), now: time.Now}
		texts := map[string]bool{}
		for mask := range 16 {
			delta := &session.Delta{}
			if mask&1 != 0 {
				delta.LastSeen = time.Now()
			}
			if mask&2 != 0 {
				delta.Expires = time.Now().Add(time.Hour)
			}
			if mask&4 != 0 {
				p := true
				delta.Persist = &p
			}
			if mask&8 != 0 {
				delta.Timeouts = &session.Timeouts{Idle: time.Minute, Absolute: time.Hour, Linger: time.Second}
			}
			stmt, args := s.updateMeta("k", delta)
			if got := placeholderCount(d, stmt); got != len(args) {
				t.Errorf("%v mask %04b: %d placeholders, %d arguments: %s", d, mask, got, len(args), stmt)
			}
			if texts[stmt] {
				t.Errorf("%v mask %04b: the same text as another shape", d, mask)
			}
			texts[stmt] = true
			if again, _ := s.updateMeta("other", delta); again != stmt {
				t.Errorf("%v mask %04b: the cached text changed", d, mask)
			}
		}
	}
}

// placeholderCount counts ? (or $n on PostgreSQL) in stmt.
func placeholderCount(d Dialect, stmt string) int {
	if d == Postgres {
		return strings.Count(stmt, "$")
	}
	return strings.Count(stmt, "?")
}

func TestPurgeSlackSQL(t *testing.T) {
	if got := strconv.FormatInt(int64(purgeSlack), 10); got != purgeSlackSQL {
		t.Fatalf("purgeSlackSQL = %s, purgeSlack is %s ns", purgeSlackSQL, got)
	}
}
