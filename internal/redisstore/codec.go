package redisstore

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/session/internal/storekit"
)

// Hash fields of a session. Values are "v:<name>"; the rest is metadata.
const (
	fieldValue    = "v:"
	fieldUser     = "user"
	fieldGen      = "gen"
	fieldCreated  = "created"
	fieldSeen     = "seen"
	fieldAuth     = "auth"
	fieldUA       = "ua"
	fieldIP       = "ip"
	fieldIdle     = "idle"
	fieldAbs      = "abs"
	fieldPersist  = "persist"
	fieldExpires  = "exp"
	fieldLinger   = "linger"
	fieldFamily   = "fam"
	fieldMethods  = "am"
	metaFieldArgs = 2 * 13 // field/value arguments of appendMeta
)

func (s *Store) sessionKey(key string) string { return s.prefix + "{" + key + "}" }
func (s *Store) tombKey(key string) string    { return s.prefix + "{" + key + "}:t" }

// familyKey is the pointer from a family to its live key. The family is
// encoded like a user ID: a family as the Manager makes it (base64url) is
// unchanged, so the pointer shares the slot of the family's first session,
// and an odd byte cannot break the hash tag.
func (s *Store) familyKey(family string) string {
	return s.prefix + "{" + encodeUserID(family) + "}:f"
}
func (s *Store) genKey(userID string) string {
	return s.genPrefix + encodeUserID(userID) + "}"
}
func (s *Store) indexKey(userID string) string {
	return s.prefix + "user:{" + encodeUserID(userID) + "}"
}

// encodeUserID percent-encodes every byte of a user ID outside A-Z a-z 0-9
// and "-._@". The Lua function enc in lua/lib.lua does the same.
func encodeUserID(u string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(u))
	for i := 0; i < len(u); i++ {
		c := u[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '@' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// unixMs encodes a time as unix milliseconds, 0 for the zero time.
func unixMs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func flagStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// appendMeta appends the metadata fields of m (all but gen) as field, value
// arguments.
func appendMeta(args []any, m *storekit.Meta) []any {
	persist := 0
	if m.Persist {
		persist = 1
	}
	return append(args,
		fieldUser, m.UserID,
		fieldCreated, unixMs(m.CreatedAt),
		fieldSeen, unixMs(m.LastSeen),
		fieldAuth, unixMs(m.AuthenticatedAt),
		fieldExpires, unixMs(m.Expires),
		fieldIdle, m.IdleTimeout.Milliseconds(),
		fieldAbs, m.AbsoluteTimeout.Milliseconds(),
		fieldUA, m.UserAgent,
		fieldIP, m.IP,
		fieldPersist, persist,
		fieldLinger, m.Linger.Milliseconds(),
		fieldFamily, m.Family,
		fieldMethods, m.Methods,
	)
}

// decodeField sets the part of r that hash field k holds. Unknown fields are
// ignored, so that a later version may add some.
func decodeField(r *storekit.Record, k, v string) bool {
	if name, ok := strings.CutPrefix(k, fieldValue); ok {
		r.Values[name] = []byte(v)
		return true
	}
	switch k {
	case fieldUser:
		r.UserID = v
	case fieldUA:
		r.UserAgent = v
	case fieldIP:
		r.IP = v
	case fieldFamily:
		r.Family = v
	case fieldMethods:
		r.Methods = v
	case fieldPersist:
		r.Persist = v == "1"
		return v == "0" || v == "1"
	case fieldGen:
		var err error
		r.Generation, err = strconv.ParseUint(v, 10, 64)
		return err == nil
	default:
		return decodeTimeField(r, k, v)
	}
	return true
}

// decodeTimeField is decodeField for the fields that hold a time (unix
// milliseconds) or a duration (milliseconds).
func decodeTimeField(r *storekit.Record, k, v string) bool {
	ok := true
	switch k {
	case fieldCreated:
		r.CreatedAt, ok = parseUnixMs(v)
	case fieldSeen:
		r.LastSeen, ok = parseUnixMs(v)
	case fieldAuth:
		r.AuthenticatedAt, ok = parseUnixMs(v)
	case fieldExpires:
		r.Expires, ok = parseUnixMs(v)
	case fieldIdle:
		r.IdleTimeout, ok = parseMs(v)
	case fieldAbs:
		r.AbsoluteTimeout, ok = parseMs(v)
	case fieldLinger:
		r.Linger, ok = parseMs(v)
	}
	return ok
}

func parseUnixMs(v string) (time.Time, bool) {
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	if ms == 0 {
		return time.Time{}, true
	}
	return time.UnixMilli(ms), true
}

func parseMs(v string) (time.Duration, bool) {
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms < 0 {
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}

// decodeFound decodes a session hash read by HGETALL; an empty reply means
// the session does not exist.
func decodeFound(op string, fields map[string]string) (*storekit.Record, error) {
	if len(fields) == 0 {
		return nil, fmt.Errorf("session: redis store: %s: %w", op, storekit.ErrNotFound)
	}
	return decodeHash(op, fields)
}

// decodeHash builds a record from the fields of a session hash. A field that
// does not parse, or a record without an expiry, is corrupt.
func decodeHash(op string, fields map[string]string) (*storekit.Record, error) {
	// Every hash holds the metadata fields and gen; the rest are values.
	// Sizing the map for those alone keeps it in the smallest table that
	// fits them.
	r := &storekit.Record{Values: make(map[string][]byte, max(len(fields)-metaFieldArgs/2-1, 0))}
	for k, v := range fields {
		if !decodeField(r, k, v) {
			return nil, corrupt(op, "field "+strconv.Quote(k))
		}
	}
	if r.Expires.IsZero() {
		return nil, corrupt(op, "record: no expiry")
	}
	return r, nil
}

// parseGen parses a generation key's value ("" or missing: 0).
func parseGen(v string) (uint64, bool) {
	if v == "" {
		return 0, true
	}
	g, err := strconv.ParseUint(v, 10, 64)
	return g, err == nil
}

// parseTomb decodes a tombstone string (see the package documentation); ok
// is false for an expiry tombstone whose session has not expired by now (the
// hash went without it: treat as unknown) or a corrupt one.
func parseTomb(v string, now time.Time) (*storekit.Tombstone, bool) {
	f := strings.Fields(v)
	if len(f) == 0 {
		return nil, false
	}
	switch f[0] {
	case "r", "d", "v":
		return parseEnded(f)
	case "e":
		return parseExpired(f, now)
	}
	return nil, false
}

// tombReasons are the end reasons of the tombstone kinds "r", "d" and "v".
var tombReasons = map[string]string{"r": storekit.EndRotated, "d": storekit.EndDestroyed, "v": storekit.EndRevoked}

// parseEnded decodes the fields f of a renewal, deletion or revocation
// tombstone: "r at next family", "r at next" (written before families),
// "d at", "v at".
func parseEnded(f []string) (*storekit.Tombstone, bool) {
	if len(f) < 2 || len(f) > 4 || tombNum(f, 1) < 0 {
		return nil, false
	}
	t := &storekit.Tombstone{Reason: tombReasons[f[0]], At: tombAt(tombNum(f, 1))}
	if len(f) >= 3 && f[0] == "r" {
		t.Next = f[2]
	}
	if len(f) == 4 && f[0] == "r" {
		// "r at next family" since families; an "r at next"
		// written before carries none (Family "").
		t.Family = f[3]
	}
	return t, true
}

// parseExpired decodes the fields f of an expiry tombstone, "e created seen
// idle abs exp", which reports the session only once it has expired by now.
func parseExpired(f []string, now time.Time) (*storekit.Tombstone, bool) {
	if len(f) != 6 {
		return nil, false
	}
	for i := 1; i < 6; i++ {
		if tombNum(f, i) < 0 {
			return nil, false
		}
	}
	exp := tombAt(tombNum(f, 5))
	if now.Before(exp) {
		return nil, false
	}
	return &storekit.Tombstone{Reason: storekit.EndExpired, At: exp, Meta: storekit.Meta{
		CreatedAt: tombAt(tombNum(f, 1)), LastSeen: tombAt(tombNum(f, 2)),
		IdleTimeout: time.Duration(tombNum(f, 3)) * time.Millisecond, AbsoluteTimeout: time.Duration(tombNum(f, 4)) * time.Millisecond,
	}}, true
}

// tombNum is the number in field i of a tombstone, -1 when it is missing or
// not a number.
func tombNum(f []string, i int) int64 {
	if i >= len(f) {
		return -1
	}
	n, err := strconv.ParseInt(f[i], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// tombAt is the time of a tombstone's unix milliseconds, zero for 0.
func tombAt(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// notFound returns the error of Load for a missing session: its tombstone
// tomb, read at now, when the store kept one.
func notFound(op, tomb string, now time.Time) error {
	if t, ok := parseTomb(tomb, now); ok {
		return fmt.Errorf("session: redis store: %s: %w", op, t)
	}
	return fmt.Errorf("session: redis store: %s: %w", op, storekit.ErrNotFound)
}

// wrapErr wraps a Redis failure with ErrStore; a missing key is ErrNotFound.
func wrapErr(op string, err error) error {
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("session: redis store: %s: %w", op, storekit.ErrNotFound)
	}
	return fmt.Errorf("session: redis store: %s: %w: %w", op, storekit.ErrStore, err)
}

// pipelineErr returns the error of a pipeline that failed as a whole (no
// connection, I/O) unless it is also one of the commands' own errors, which
// the caller inspects. go-redis stamps such failures on the commands too, but
// only the returned error is its contract; checking it means an outage can
// never read as an empty reply, that is as "not found", which would log the
// user out.
func pipelineErr(err error, cmds ...redis.Cmder) error {
	if err == nil {
		return nil
	}
	for _, c := range cmds {
		if c.Err() == err {
			return nil
		}
	}
	return err
}

// corrupt reports a session record that the store cannot decode. It wraps
// both storekit.ErrStore and storekit.ErrCorrupt, so that a caller can tell
// an undecodable record (the Manager deletes it and starts afresh) from an
// outage.
func corrupt(op, what string) error {
	return fmt.Errorf("session: redis store: %s: %w: %w: corrupt %s", op, storekit.ErrStore, storekit.ErrCorrupt, what)
}

// broken reports a key shared by many sessions (a user's generation, the
// revoke-all cutoff, a family pointer) or a script reply that does not
// decode. It wraps storekit.ErrStore only: deleting the session that met
// it would not repair it, so requests fail closed until it is fixed.
func broken(op, what string) error {
	return fmt.Errorf("redis store: %s: %w: corrupt %s", op, storekit.ErrStore, what)
}

// isReplyError reports whether err is an error reply from the server, as
// opposed to a failure to reach it.
func isReplyError(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && !errors.Is(err, redis.Nil)
}
