package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// UserSessions implements UserIndex: it reads the index and the generation
// (one round trip), every indexed session (one pipelined round trip, spread
// over the nodes that hold them), and prunes entries whose session is gone,
// belongs to someone else or is revoked (one more, only when needed).
func (s *RedisStore) UserSessions(ctx context.Context, userID string) ([]IndexedRecord, error) {
	const op = "user sessions"
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redis store: %s: %w", op, err)
	}
	ik := s.indexKey(userID)
	var members *redis.StringSliceCmd
	var genCmd *redis.StringCmd
	var prune *redis.IntCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		prune = p.ZRemRangeByScore(ctx, ik, "-inf", strconv.FormatInt(time.Now().UnixMilli(), 10))
		members = p.ZRange(ctx, ik, 0, -1)
		genCmd = p.Get(ctx, s.genKey(userID))
		return nil
	})
	if err := pipelineErr(err, prune, members, genCmd); err != nil {
		return nil, wrapErr(op, err)
	}
	for _, c := range []redis.Cmder{prune, members, genCmd} {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return nil, wrapErr(op, err)
		}
	}
	keys := members.Val()
	if len(keys) == 0 {
		return nil, nil
	}
	cur, ok := parseGen(genCmd.Val())
	if !ok {
		return nil, corrupt(op, "generation")
	}

	hashes := make([]*redis.MapStringStringCmd, len(keys))
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			hashes[i] = p.HGetAll(ctx, s.sessionKey(k))
		}
		return nil
	})
	if err != nil {
		return nil, wrapErr(op, err)
	}
	out := make([]IndexedRecord, 0, len(keys))
	var dead []any
	for i, k := range keys {
		fields := hashes[i].Val()
		if len(fields) == 0 {
			dead = append(dead, k)
			continue
		}
		r, err := decodeHash(op, fields)
		if err != nil {
			return nil, err
		}
		if r.UserID != userID || r.Generation < cur {
			dead = append(dead, k)
			continue
		}
		out = append(out, IndexedRecord{Key: k, Meta: r.Meta})
	}
	if len(dead) > 0 {
		if err := s.client.ZRem(ctx, ik, dead...).Err(); err != nil {
			return nil, wrapErr(op, err)
		}
	}
	return out, nil
}

// RevokeUser implements UserIndex: one script bumps the user's generation
// (every earlier session of the user stops loading at once, indexed or not)
// and empties the index; one pipelined round trip then replaces the indexed
// sessions by EndRevoked tombstones.
func (s *RedisStore) RevokeUser(ctx context.Context, userID string) error {
	const op = "revoke user"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	now := time.Now()
	keys, err := revokeScript.Run(ctx, s.client, []string{s.genKey(userID), s.indexKey(userID)},
		now.UnixMilli(), now.Add(s.maxLifetime).UnixMilli()).StringSlice()
	if err != nil {
		return wrapErr(op, err)
	}
	return s.endAll(ctx, op, keys, "v", userID, now)
}

// endAll ends the sessions of userID under keys with tombstones of kind, in
// one pipelined round trip (the sessions are in different slots).
func (s *RedisStore) endAll(ctx context.Context, op string, keys []string, kind, userID string, now time.Time) error {
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

// Rotate implements Rotator: on a single server or Sentinel one script does
// the whole renewal atomically, in one round trip (see rotateScript); on a
// Cluster, rotateSharded.
func (s *RedisStore) Rotate(ctx context.Context, rot *Rotation) ([]IndexedRecord, error) {
	const op = "rotate"
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redis store: %s: %w", op, err)
	}
	sharded, err := s.sharded(ctx)
	if err != nil {
		return nil, err
	}
	if sharded {
		return s.rotateSharded(ctx, rot)
	}
	now := time.Now()
	user := rot.Meta.UserID
	newHash, newTomb := s.sessionKey(rot.NewKey), s.tombKey(rot.NewKey)
	oldHash, oldTomb, hasOld := newHash, newTomb, "0"
	if rot.OldKey != "" {
		oldHash, oldTomb, hasOld = s.sessionKey(rot.OldKey), s.tombKey(rot.OldKey), "1"
	}
	// The generation and index keys of an anonymous session are never
	// written; any key of the session's slot stands in for them.
	genKey, indexKey := newTomb, newTomb
	if user != "" {
		genKey, indexKey = s.genKey(user), s.indexKey(user)
	}
	keys := []string{oldHash, oldTomb, newHash, newTomb, genKey, indexKey}
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
	args := make([]any, 0, 38+len(d.Delete)+2*len(d.Set))
	args = append(args, hasOld, s.genPrefix, s.prefix+"{", now.UnixMilli(), rot.OldKey, rot.NewKey, user,
		flagStr(rot.RevokeUser), rot.MaxSessions, flagStr(rot.RefuseNew), s.maxLifetime.Milliseconds(),
		flagStr(d.Clear), persist, timeouts, len(d.Delete), unixMs(m.LastSeen),
		fieldUser, user, fieldCreated, unixMs(m.CreatedAt), fieldSeen, unixMs(m.LastSeen),
		fieldAuth, unixMs(m.AuthenticatedAt), fieldExpires, unixMs(m.Expires), fieldUA, m.UserAgent, fieldIP, m.IP,
		fieldIdle, 0, fieldAbs, 0, fieldPersist, 0, fieldLinger, m.Linger.Milliseconds())
	for _, k := range d.Delete {
		args = append(args, fieldValue+k)
	}
	for k, v := range d.Set {
		args = append(args, fieldValue+k, v)
	}
	res, err := rotateScript.Run(ctx, s.client, keys, args...).Slice()
	if err != nil {
		return nil, wrapErr(op, err)
	}
	return rotateResult(op, res)
}

// rotateResult decodes the reply of rotateScript.
func rotateResult(op string, res []any) ([]IndexedRecord, error) {
	if len(res) == 0 {
		return nil, corrupt(op, "reply")
	}
	switch code, _ := res[0].(int64); code {
	case 1:
		return nil, fmt.Errorf("redis store: %s: %w", op, ErrNotFound)
	case 2:
		return nil, fmt.Errorf("redis store: %s: %w", op, ErrTooManySessions)
	}
	var out []IndexedRecord
	for i := 1; i+3 < len(res); i += 4 {
		str := func(v any) string { s, _ := v.(string); return s }
		r := IndexedRecord{Key: str(res[i])}
		r.Meta.UserAgent, r.Meta.IP = str(res[i+1]), str(res[i+2])
		if ms, err := strconv.ParseInt(str(res[i+3]), 10, 64); err == nil && ms > 0 {
			r.Meta.LastSeen = time.UnixMilli(ms)
		}
		out = append(out, r)
	}
	return out, nil
}

// rotateSharded is Rotate on a Cluster, where the old and new records, the
// user's index and generation live in different slots. A renewal with a cap
// holds a short lock in the user's slot (see lockUser), so the logins of one
// user are counted one at a time, as the memory store's user lock does.
// Then, in steps that each are atomic in their slot:
//
//  1. the cap counts the user's live sessions (UserSessions) and refuses or
//     picks the least recently seen to evict;
//  2. the old record is read and replaced by its renewal tombstone
//     (claimScript): a logout landing later finds nothing to undo, one
//     landing earlier makes the renewal fail;
//  3. the revocation, when asked, runs (even when step 2 failed);
//  4. the old record's generation is checked against the user's, and the
//     new record is created with it and indexed;
//  5. the user's generation is read again: if it moved (a revocation landed
//     during steps 2 to 4), the new record is deleted and the renewal
//     fails; otherwise the evicted sessions end.
func (s *RedisStore) rotateSharded(ctx context.Context, rot *Rotation) ([]IndexedRecord, error) {
	const op = "rotate"
	now := time.Now()
	user := rot.Meta.UserID
	var victims []IndexedRecord
	if user != "" && rot.MaxSessions > 0 {
		unlock, err := s.lockUser(ctx, op, user)
		if err != nil {
			return nil, err
		}
		defer unlock()
		if !rot.RevokeUser {
			live, err := s.UserSessions(ctx, user)
			if err != nil {
				return nil, err
			}
			live = slices.DeleteFunc(live, func(r IndexedRecord) bool { return r.Key == rot.OldKey })
			if n := len(live) - rot.MaxSessions + 1; n > 0 {
				if rot.RefuseNew {
					return nil, fmt.Errorf("redis store: %s: %w", op, ErrTooManySessions)
				}
				slices.SortFunc(live, func(a, b IndexedRecord) int { return a.Meta.LastSeen.Compare(b.Meta.LastSeen) })
				victims = live[:n]
			}
		}
	}
	var old *Record
	if rot.OldKey != "" {
		fields, err := claimScript.Run(ctx, s.client, []string{s.sessionKey(rot.OldKey), s.tombKey(rot.OldKey)},
			unixMs(rot.Meta.LastSeen), now.UnixMilli()).StringSlice()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, wrapErr(op, err)
		}
		if len(fields) > 0 {
			m := make(map[string]string, len(fields)/2)
			for i := 0; i+1 < len(fields); i += 2 {
				m[fields[i]] = fields[i+1]
			}
			if old, err = decodeHash(op, m); err != nil {
				return nil, err
			}
		}
	}
	if user != "" && rot.RevokeUser {
		if err := s.RevokeUser(ctx, user); err != nil {
			return nil, err
		}
	}
	if rot.OldKey != "" && old == nil {
		return nil, fmt.Errorf("redis store: %s: %w", op, ErrNotFound)
	}
	var gen uint64
	if user != "" {
		var err error
		if gen, err = s.generation(ctx, op, user); err != nil {
			return nil, err
		}
	}
	if old != nil && old.UserID != "" {
		cur := gen
		if old.UserID != user {
			var err error
			if cur, err = s.generation(ctx, op, old.UserID); err != nil {
				return nil, err
			}
		}
		if old.Generation < cur && !(rot.RevokeUser && old.UserID == user) {
			return nil, fmt.Errorf("redis store: %s: revoked: %w", op, ErrNotFound)
		}
	}
	r := rot.rotateRecord(old)
	r.Generation = gen
	if old != nil && old.UserID == user && !rot.RevokeUser {
		r.Generation = old.Generation
	}
	if err := s.writeHash(ctx, rot.NewKey, r, r.Generation); err != nil {
		return nil, wrapErr(op, err)
	}
	if user == "" {
		return nil, nil
	}
	// The user's index and generation share a slot: one round trip indexes
	// the new key, drops the old one and reads the generation again.
	ik, until := s.indexKey(user), now.Add(s.maxLifetime)
	var genCmd *redis.StringCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, ik, redis.Z{Score: float64(until.UnixMilli()), Member: rot.NewKey})
		if old != nil && old.UserID == user {
			p.ZRem(ctx, ik, rot.OldKey)
		}
		p.PExpireAt(ctx, ik, until)
		genCmd = p.Get(ctx, s.genKey(user))
		return nil
	})
	if err := pipelineErr(err, genCmd); err != nil {
		_ = s.client.Del(context.WithoutCancel(ctx), s.sessionKey(rot.NewKey)).Err()
		return nil, wrapErr(op, err)
	}
	if err := genCmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
		_ = s.client.Del(context.WithoutCancel(ctx), s.sessionKey(rot.NewKey)).Err()
		return nil, wrapErr(op, err)
	}
	if cur, ok := parseGen(genCmd.Val()); !ok || cur > r.Generation {
		_ = s.client.Del(context.WithoutCancel(ctx), s.sessionKey(rot.NewKey)).Err()
		return nil, fmt.Errorf("redis store: %s: revoked meanwhile: %w", op, ErrNotFound)
	}
	keys := make([]string, len(victims))
	for i, v := range victims {
		keys[i] = v.Key
	}
	if err := s.endAll(ctx, op, keys, "d", user, now); err != nil {
		return nil, err
	}
	return victims, nil
}

// lockUser takes the user's renewal lock on a Cluster (a key in the user's
// slot, SET NX with a random owner and a short TTL, so a crashed holder
// cannot block the user for long), waiting with backoff while another
// renewal holds it. The returned func releases it if still owned.
func (s *RedisStore) lockUser(ctx context.Context, op, user string) (func(), error) {
	key := s.prefix + "lock:{" + encodeUserID(user) + "}"
	owner := newToken()
	wait := time.Millisecond
	deadline := time.Now().Add(userLockTTL)
	for {
		ok, err := s.client.SetNX(ctx, key, owner, userLockTTL).Result()
		if err != nil {
			return nil, wrapErr(op, err)
		}
		if ok {
			return func() {
				_ = unlockScript.Run(context.WithoutCancel(ctx), s.client, []string{key}, owner).Err()
			}, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("redis store: %s: %w: the user's renewal lock stayed taken", op, ErrStore)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("redis store: %s: %w", op, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// userLockTTL bounds how long a renewal on a Cluster may hold its user's
// lock, and how long another waits for it.
const userLockTTL = 5 * time.Second

func flagStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Compile-time checks.
var (
	_ Store     = (*RedisStore)(nil)
	_ UserIndex = (*RedisStore)(nil)
	_ Rotator   = (*RedisStore)(nil)
	_ Rotator   = (*MemoryStore)(nil)
)
