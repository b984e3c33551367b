package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/session/internal/storekit"
)

// UserSessions implements session.UserIndex: it reads the index and the generation
// (one round trip, see readIndex), every indexed session and the RevokeAll
// cutoff (one pipelined round trip, spread over the nodes that hold them),
// lists none that RevokeAll ended, and prunes entries
// whose session is gone, belongs to someone else or is revoked (one more,
// only when needed).
func (s *Store) UserSessions(ctx context.Context, userID string) ([]storekit.IndexedRecord, error) {
	const op = "user sessions"
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("session: redis store: %s: %w", op, err)
	}
	keys, cur, err := s.readIndex(ctx, op, userID)
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	hashes := make([]*redis.MapStringStringCmd, len(keys))
	var cutoff *redis.StringCmd
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			hashes[i] = p.HGetAll(ctx, s.sessionKey(k))
		}
		cutoff = p.Get(ctx, s.allKey()) // last: its redis.Nil hides no other error
		return nil
	})
	if err := pipelineErr(err, cutoff); err != nil {
		return nil, wrapErr(op, err)
	}
	all, err := cutoffOf(cutoff)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	out := make([]storekit.IndexedRecord, 0, len(keys))
	var dead []any
	for i, k := range keys {
		r, gone, err := indexEntry(op, userID, cur, all, hashes[i].Val())
		switch {
		case err != nil:
			return nil, err
		case gone:
			dead = append(dead, k)
		case r != nil:
			out = append(out, storekit.IndexedRecord{Key: k, Meta: r.Meta})
		}
	}
	if len(dead) > 0 {
		if err := s.client.ZRem(ctx, s.indexKey(userID), dead...).Err(); err != nil {
			return nil, wrapErr(op, err)
		}
	}
	return out, nil
}

// indexEntry sorts one indexed session for UserSessions (fields: its hash,
// cur: the user's generation, cutoff: RevokeAll's): its record when it is
// listed; gone when its entry is pruned (no record, someone else's, revoked
// by generation); neither when it stays indexed but unlisted (a corrupt
// record, RevokeUser still ends it and a request bringing it back gets it
// rejected; or one RevokeAll ended, as Load answers).
func indexEntry(op, userID string, cur uint64, cutoff string, fields map[string]string) (r *storekit.Record, gone bool, err error) {
	if len(fields) == 0 {
		return nil, true, nil
	}
	r, err = decodeHash(op, fields)
	if errors.Is(err, storekit.ErrCorrupt) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if r.UserID != userID || r.Generation < cur {
		return nil, true, nil
	}
	var tomb *storekit.Tombstone
	if err := revokedByAll(op, r, cutoff); errors.As(err, &tomb) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, err
	}
	return r, false, nil
}

// readIndex is UserSessions' first round trip: it drops the index entries
// past their score, and reads the remaining keys and the user's generation
// cur. No keys and no error: the user has no session.
func (s *Store) readIndex(ctx context.Context, op, userID string) (keys []string, cur uint64, err error) {
	ik := s.indexKey(userID)
	var members *redis.StringSliceCmd
	var genCmd *redis.StringCmd
	var prune *redis.IntCmd
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		prune = p.ZRemRangeByScore(ctx, ik, "-inf", strconv.FormatInt(s.now().UnixMilli(), 10))
		members = p.ZRange(ctx, ik, 0, -1)
		genCmd = p.Get(ctx, s.genKey(userID))
		return nil
	})
	if err := pipelineErr(err, prune, members, genCmd); err != nil {
		return nil, 0, wrapErr(op, err)
	}
	for _, c := range []redis.Cmder{prune, members, genCmd} {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return nil, 0, wrapErr(op, err)
		}
	}
	keys = members.Val()
	if len(keys) == 0 {
		return nil, 0, nil
	}
	cur, ok := parseGen(genCmd.Val())
	if !ok {
		return nil, 0, broken(op, "generation")
	}
	return keys, cur, nil
}

// generation reads the user's current generation (0 when never revoked).
func (s *Store) generation(ctx context.Context, op, userID string) (uint64, error) {
	v, err := s.client.Get(ctx, s.genKey(userID)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, wrapErr(op, err)
	}
	g, ok := parseGen(v)
	if !ok {
		return 0, broken(op, "generation")
	}
	return g, nil
}

// RevokeUser implements session.UserIndex: one script bumps the user's generation
// (every earlier session of the user stops loading at once, indexed or not)
// and empties the index; one pipelined round trip then replaces the indexed
// sessions by EndRevoked tombstones.
func (s *Store) RevokeUser(ctx context.Context, userID string) error {
	const op = "revoke user"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("session: redis store: %s: %w", op, err)
	}
	now := s.now()
	keys, err := s.runEnding(ctx, op, revokeScript, []string{s.genKey(userID), s.indexKey(userID)},
		now.UnixMilli(), now.Add(s.maxLifetime).UnixMilli()).StringSlice()
	if err != nil {
		return wrapErr(op, err)
	}
	return s.endAll(ctx, op, keys, "v", userID, now)
}

// endAll ends the sessions of userID under keys with tombstones of kind, in
// one pipelined round trip (the sessions are in different slots).
func (s *Store) endAll(ctx context.Context, op string, keys []string, kind, userID string, now time.Time) error {
	if len(keys) == 0 {
		return nil
	}
	cmds := make([]*redis.Cmd, len(keys))
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			// EVAL, not EVALSHA: a NOSCRIPT inside a pipeline could not
			// be retried without another round trip.
			cmds[i] = endScript.Eval(ctx, p, []string{s.sessionKey(k), s.tombKey(k)}, kind, now.UnixMilli(), userID)
		}
		return nil
	})
	if err != nil {
		return wrapErr(op, err)
	}
	return nil
}

// Rotate implements session.Rotator: on a single server or Sentinel one script does
// the whole renewal atomically, in one round trip (see lua/rotate.lua);
// on a Cluster, rotateSharded.
func (s *Store) Rotate(ctx context.Context, rot *storekit.Rotation) ([]storekit.IndexedRecord, error) {
	const op = "rotate"
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("session: redis store: %s: %w", op, err)
	}
	sharded, err := s.sharded(ctx)
	if err != nil {
		return nil, err
	}
	if sharded {
		return s.rotateSharded(ctx, rot)
	}
	now := s.now()
	user := rot.Meta.UserID
	hasOld := "0"
	if rot.OldKey != "" {
		hasOld = "1"
	}
	d := &rot.Delta
	persist, timeouts := "", ""
	if d.Persist != nil {
		persist = "0"
		if *d.Persist {
			persist = "1"
		}
	}
	if t := d.Timeouts; t != nil {
		timeouts = fmt.Sprintf("%d %d %d", t.Idle.Milliseconds(), t.Absolute.Milliseconds(), t.Linger.Milliseconds())
	}
	m := &rot.Meta
	args := make([]any, 0, 40+len(d.Delete)+2*len(d.Set))
	args = append(args, hasOld, s.genPrefix, s.prefix+"{", now.UnixMilli(), rot.OldKey, rot.NewKey, user,
		flagStr(rot.RevokeUser), rot.MaxSessions, flagStr(rot.RefuseNew), s.maxLifetime.Milliseconds(),
		flagStr(d.Clear), persist, timeouts, len(d.Delete), unixMs(m.LastSeen),
		fieldUser, user, fieldCreated, unixMs(m.CreatedAt), fieldSeen, unixMs(m.LastSeen),
		fieldAuth, unixMs(m.AuthenticatedAt), fieldExpires, unixMs(m.Expires), fieldUA, m.UserAgent, fieldIP, m.IP,
		fieldFamily, m.Family, fieldIdle, 0, fieldAbs, 0, fieldPersist, 0, fieldLinger, m.Linger.Milliseconds())
	for _, k := range d.Delete {
		args = append(args, fieldValue+k)
	}
	for k, v := range d.Set {
		args = append(args, fieldValue+k, v)
	}
	// The methods go with the fields to set (ARGV[41+n..]), after the
	// values: rotate.lua copies none of the old record's metadata.
	args = append(args, fieldMethods, m.Methods)
	res, err := s.runEnding(ctx, op, rotateScript, s.rotateKeys(rot), args...).Slice()
	if err != nil {
		return nil, wrapErr(op, err)
	}
	return rotateResult(op, res)
}

// rotateKeys are the KEYS of rotateScript for rot.
func (s *Store) rotateKeys(rot *storekit.Rotation) []string {
	newHash, newTomb := s.sessionKey(rot.NewKey), s.tombKey(rot.NewKey)
	oldHash, oldTomb := newHash, newTomb
	if rot.OldKey != "" {
		oldHash, oldTomb = s.sessionKey(rot.OldKey), s.tombKey(rot.OldKey)
	}
	// The generation and index keys of an anonymous session are never
	// written; any key of the session's slot stands in for them.
	genKey, indexKey := newTomb, newTomb
	if user := rot.Meta.UserID; user != "" {
		genKey, indexKey = s.genKey(user), s.indexKey(user)
	}
	// Likewise a family that is the new key itself needs no pointer.
	famKey := newTomb
	if needsPointer(rot.NewKey, rot.Meta.Family) {
		famKey = s.familyKey(rot.Meta.Family)
	}
	return []string{oldHash, oldTomb, newHash, newTomb, genKey, indexKey, famKey, s.allKey()}
}

// rotateResult decodes the reply of rotateScript.
func rotateResult(op string, res []any) ([]storekit.IndexedRecord, error) {
	if len(res) == 0 {
		return nil, broken(op, "reply")
	}
	switch code, _ := res[0].(int64); code {
	case 1:
		return nil, fmt.Errorf("session: redis store: %s: %w", op, storekit.ErrNotFound)
	case 2:
		return nil, fmt.Errorf("session: redis store: %s: %w", op, storekit.ErrTooManySessions)
	}
	var out []storekit.IndexedRecord
	for i := 1; i+3 < len(res); i += 4 {
		str := func(v any) string { s, _ := v.(string); return s }
		r := storekit.IndexedRecord{Key: str(res[i])}
		r.Meta.UserAgent, r.Meta.IP = str(res[i+1]), str(res[i+2])
		if ms, err := strconv.ParseInt(str(res[i+3]), 10, 64); err == nil && ms > 0 {
			r.Meta.LastSeen = time.UnixMilli(ms)
		}
		out = append(out, r)
	}
	return out, nil
}
