package drivertest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/storetest"
)

// TestSealValuesDumpShowsNoPlaintext: with session.SealValues over the SQL
// store, a dump of every session table holds no session value in the
// clear, while the store still reads the value back.
func TestSealValuesDumpShowsNoPlaintext(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			t.Fatal(err)
		}
		st, err := session.SealValues(newStore(t, db, b.d), key)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		secret := "ya29.secret-oauth-" + storetest.Key()
		k := storetest.Key()
		r := storetest.Record(time.Hour, map[string][]byte{"oauth": []byte(`"` + secret + `"`)})
		r.UserID = "dump-user-" + storetest.Key()[:8]
		if err := st.Create(ctx, k, r); err != nil {
			t.Fatal(err)
		}
		got, err := st.Load(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Values["oauth"]) != `"`+secret+`"` {
			t.Fatalf("the sealed store reads %q", got.Values["oauth"])
		}
		// A renewal records itself under a reserved name holding NUL bytes
		// (PostgreSQL's TEXT holds none: the store escapes it).
		k2 := storetest.Key()
		m := r.Meta
		m.LastSeen = m.LastSeen.Add(time.Second)
		if _, err := st.(session.Rotator).Rotate(ctx, &session.Rotation{OldKey: k, NewKey: k2, Meta: m}); err != nil {
			t.Fatalf("renewal: %v", err)
		}
		if got, err = st.Load(ctx, k2); err != nil {
			t.Fatalf("load after a renewal: %v", err)
		}
		if string(got.Values["oauth"]) != `"`+secret+`"` {
			t.Fatalf("after a renewal the sealed store reads %q", got.Values["oauth"])
		}
		dump := dumpTables(t, db, "session_records", "session_values", "session_users")
		if !strings.Contains(dump, r.UserID) {
			t.Fatalf("the dump does not read the store (user IDs are not sealed)")
		}
		if strings.Contains(dump, "secret-oauth") {
			t.Fatalf("a session value is in the clear in the %s tables", b.name)
		}
	})
}

// dumpTables returns every column of every row of the tables, as text.
func dumpTables(t *testing.T, db *sql.DB, tables ...string) string {
	t.Helper()
	var b strings.Builder
	for _, table := range tables {
		rows, err := db.Query("SELECT * FROM " + table)
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		vals := make([]any, len(cols))
		for i := range vals {
			vals[i] = new(sql.RawBytes)
		}
		for rows.Next() {
			if err := rows.Scan(vals...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				fmt.Fprintf(&b, "%s|", *v.(*sql.RawBytes))
			}
			b.WriteByte('\n')
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return b.String()
}
