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

// Families on Redis.
//
// A record keeps its family in the hash field "fam" ("" for records written
// before families, or by a caller that set none: the record's own key).
// A family whose live record is not under its own key (it was renewed, or
// it is a header session's) has a pointer, a string in the family's own
// slot:
//
//	session:{<family>}:f   "=<key>" while <key> is its live record,
//	                       "!<key>" once EndFamily ended it
//
// (<family> encoded as user IDs are, which leaves the Manager's base64url
// families as they are). Create, Rotate and Refresh write it when they
// store a record whose family is not its key; its TTL, renewed at each
// write, is max(now + WithMaxSessionLifetime, CreatedAt + AbsoluteTimeout
// + Linger): at least as long as any record of the family can live (a
// touch slides a record's expiry up to its absolute limit, which
// WithMaxSessionLifetime bounds for a session without one of its own).
// Family and EndFamily read the pointer, or the family's own key when
// there is none, and never walk renewal tombstones: O(1) however often the
// session was renewed.
//
// On a single server or Sentinel, Rotate and Refresh repoint the family in
// their one script, and EndFamily is one script too, so the two are
// atomic. On a Cluster the pointer lives in another slot than the records
// it names: EndFamily first marks it ended ("!"), reading the key it named,
// then ends that key; a renewal (rotateSharded) repoints the family only
// after creating its new record, and deletes the new record and fails if
// it finds the mark. Whichever comes first in the pointer's slot, no
// renewal racing EndFamily leaves a live record behind.

var (
	// familyScript is Family on a single server or Sentinel
	// (lua/family.lua).
	familyScript = redisScript("family.lua")
	// endFamilyScript is EndFamily on a single server or Sentinel
	// (lua/endfamily.lua).
	endFamilyScript = redisScript("endfamily.lua")
	// markFamilyScript is EndFamily's first step on a Cluster: mark the
	// family ended and read its key (lua/markfamily.lua).
	markFamilyScript = redisScript("markfamily.lua")
	// endMemberScript is EndFamily's second step on a Cluster: end the
	// record if it is the family's live one (lua/endmember.lua).
	endMemberScript = redisScript("endmember.lua")
	// pointFamilyScript is rotateSharded's last step: repoint the family
	// unless it was ended (lua/pointfamily.lua).
	pointFamilyScript = redisScript("pointfamily.lua")
)

// needsPointer reports whether a record under key with family needs a
// family pointer: only when its family is not its own key.
func needsPointer(key, family string) bool { return family != "" && family != key }

// familyUntil is the expiry of a family pointer written at now for a
// record with metadata m (see the comment at the top of this file).
func (s *Store) familyUntil(now time.Time, m *storekit.Meta) time.Time {
	until := now.Add(s.maxLifetime)
	if !m.CreatedAt.IsZero() {
		if own := m.CreatedAt.Add(m.AbsoluteTimeout + m.Linger); own.After(until) {
			until = own
		}
	}
	return until
}

// familyNotFound is Family's and EndFamily's error for a family without a
// live record. It is never a Tombstone: a family has no tombstone of its
// own, and the Manager must not read one as the state of a key.
func familyNotFound(op, why string) error {
	return fmt.Errorf("session: redis store: %s: %s: %w", op, why, storekit.ErrNotFound)
}

// Family implements session.Rotator: on a single server or Sentinel one script
// reads the family's pointer, the record it names, its user's generation
// and the RevokeAll cutoff (one round trip); on a Cluster, a GET of the
// pointer and then Load's reads of the record.
func (s *Store) Family(ctx context.Context, family string) (string, *storekit.Record, error) {
	const op = "family"
	if err := ctx.Err(); err != nil {
		return "", nil, fmt.Errorf("session: redis store: %s: %w", op, err)
	}
	if family == "" {
		return "", nil, familyNotFound(op, "no family")
	}
	sharded, err := s.sharded(ctx)
	if err != nil {
		return "", nil, err
	}
	if sharded {
		return s.familySharded(ctx, family)
	}
	res, err := familyScript.Run(ctx, s.client, []string{s.familyKey(family)},
		s.prefix+"{", family, s.genPrefix, s.allKey()).StringSlice()
	if errors.Is(err, redis.Nil) {
		return "", nil, familyNotFound(op, "no live record")
	}
	if err != nil {
		return "", nil, wrapErr(op, err)
	}
	return s.familyReply(op, family, res)
}

// familyReply decodes familyScript's reply for family: the live key, the
// user's generation, the RevokeAll cutoff, then the record's fields; it
// checks the record is current and a live member of family.
func (s *Store) familyReply(op, family string, res []string) (string, *storekit.Record, error) {
	if len(res) < 3 || len(res)%2 == 0 {
		return "", nil, broken(op, "reply")
	}
	key, g, cutoff := res[0], res[1], res[2]
	r, err := decodeHash(op, pairs(res[3:]))
	if err != nil {
		return "", nil, err
	}
	cur, ok := parseGen(g)
	if !ok {
		return "", nil, broken(op, "generation")
	}
	if r.UserID != "" && r.Generation < cur {
		return "", nil, familyNotFound(op, "revoked")
	}
	if err := revokedByAll(op, r, cutoff); err != nil {
		if errors.Is(err, storekit.ErrStore) {
			return "", nil, err
		}
		return "", nil, familyNotFound(op, "revoked")
	}
	if err := s.checkMember(op, family, key, r); err != nil {
		return "", nil, err
	}
	return key, r, nil
}

// familySharded is Family on a Cluster, where the pointer and the record
// live in different slots: the pointer is read first, then the record as
// loadSharded reads it (which checks the generation and the cutoff).
func (s *Store) familySharded(ctx context.Context, family string) (string, *storekit.Record, error) {
	const op = "family"
	key, err := s.familyPointer(ctx, op, family)
	if err != nil {
		return "", nil, err
	}
	r, err := s.loadSharded(ctx, key)
	if errors.Is(err, storekit.ErrNotFound) {
		return "", nil, familyNotFound(op, "no live record")
	}
	if err != nil {
		return "", nil, err
	}
	if err := s.checkMember(op, family, key, r); err != nil {
		return "", nil, err
	}
	return key, r, nil
}

// familyPointer reads the pointer of family: the key it names, the family
// itself when there is none, ErrNotFound when the family was ended.
func (s *Store) familyPointer(ctx context.Context, op, family string) (string, error) {
	v, err := s.client.Get(ctx, s.familyKey(family)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return family, nil
	case err != nil:
		return "", wrapErr(op, err)
	case len(v) > 1 && v[0] == '=':
		return v[1:], nil
	case len(v) > 1 && v[0] == '!':
		return "", familyNotFound(op, "ended")
	}
	return "", broken(op, "family pointer")
}

// checkMember checks that r, read under key, is a live record of family:
// its family (its key when it names none) is family, and it has not
// expired (Redis expires it at the same time; a clock ahead of the
// server's must still not hand out an expired record).
func (s *Store) checkMember(op, family, key string, r *storekit.Record) error {
	f := r.Family
	if f == "" {
		f = key
	}
	if f != family {
		return familyNotFound(op, "record of another family")
	}
	if !s.now().Before(r.Expires) {
		return familyNotFound(op, "expired")
	}
	return nil
}

// EndFamily implements session.Rotator. It is a write that ends a session, so it
// takes runEnding (WithDurability applies, and fails the call when the
// replicas do not acknowledge it). On a single server or Sentinel it is one
// script (lua/endfamily.lua), atomic with Rotate and Refresh, which
// also drops the record from its user's index; on a Cluster,
// endFamilySharded.
func (s *Store) EndFamily(ctx context.Context, family string) (*storekit.IndexedRecord, error) {
	const op = "end family"
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("session: redis store: %s: %w", op, err)
	}
	if family == "" {
		return nil, familyNotFound(op, "no family")
	}
	sharded, err := s.sharded(ctx)
	if err != nil {
		return nil, err
	}
	if sharded {
		return s.endFamilySharded(ctx, family)
	}
	now := s.now()
	res, err := s.runEnding(ctx, op, endFamilyScript, []string{s.familyKey(family)},
		s.prefix+"{", family, s.genPrefix, s.allKey(), s.prefix+"user:{", now.UnixMilli(),
		s.maxLifetime.Milliseconds()).StringSlice()
	if errors.Is(err, redis.Nil) {
		return nil, familyNotFound(op, "no live record")
	}
	if err != nil {
		return nil, wrapErr(op, err)
	}
	if len(res)%2 == 0 {
		return nil, broken(op, "reply")
	}
	r, err := decodeHash(op, pairs(res[1:]))
	if err != nil {
		return nil, err
	}
	return &storekit.IndexedRecord{Key: res[0], Meta: r.Meta}, nil
}

// endFamilySharded is EndFamily on a Cluster, in steps that each are
// atomic in their slot:
//
//  1. the family's pointer is marked ended and the key K it named read
//     (markFamilyScript): from then on no renewal of the family can
//     succeed (see rotateSharded);
//  2. K is ended if it is still the live record of the family (see
//     endMemberSharded);
//  3. if K is gone because a renewal claimed it (its tombstone is a
//     renewal within the family), that renewal cannot succeed: its
//     pointer step comes after step 1 (had it come before, step 1 would
//     have read its new key), so it will find the mark and delete its new
//     record. The family's session is therefore ended here. Its new
//     record, if written yet, is ended at once (and its metadata
//     returned); otherwise only K and the family are known and returned.
//
// Steps 1 and 2 take runEnding. The mark is written even when the family
// turns out to have no live record (a renewal may be between claiming its
// old record and repointing the family, and must fail), but only for a
// family the store knows: one with a pointer, or whose own key has a
// record or a tombstone. Ending made-up families writes nothing. The
// record stays in its user's index until UserSessions or the user's next
// login prunes it, as after Delete.
func (s *Store) endFamilySharded(ctx context.Context, family string) (*storekit.IndexedRecord, error) {
	const op = "end family"
	now := s.now()
	keys := []string{s.familyKey(family)}
	if encodeUserID(family) == family {
		// The family's own key shares the pointer's slot: markFamilyScript
		// looks there for a family without a pointer.
		keys = append(keys, s.sessionKey(family), s.tombKey(family))
	}
	key, err := s.runEnding(ctx, op, markFamilyScript, keys, family, now.UnixMilli(), s.maxLifetime.Milliseconds()).Text()
	if errors.Is(err, redis.Nil) {
		return nil, familyNotFound(op, "unknown family")
	}
	if err != nil {
		return nil, wrapErr(op, err)
	}
	ended, err := s.endMemberSharded(ctx, op, family, key, now)
	if !errors.Is(err, storekit.ErrNotFound) {
		return ended, err
	}
	v, terr := s.client.Get(ctx, s.tombKey(key)).Result()
	if terr != nil && !errors.Is(terr, redis.Nil) {
		return nil, wrapErr(op, terr)
	}
	t, ok := parseTomb(v, now)
	if !ok || t.Reason != storekit.EndRotated || t.Family != family || t.Next == "" {
		return nil, err
	}
	ended, err = s.endMemberSharded(ctx, op, family, t.Next, now)
	if errors.Is(err, storekit.ErrNotFound) {
		// The renewal's new record is not written yet, or already
		// deleted by the renewal failing: the session ended all the same.
		return &storekit.IndexedRecord{Key: key, Meta: storekit.Meta{Family: family}}, nil
	}
	return ended, err
}

// endMemberSharded ends the record under key, on a Cluster, if it is a live
// record of family: its user and the RevokeAll cutoff are read (one round
// trip, two slots), then the user's generation, and then endMemberScript
// ends the record in its slot only if it still is a live, current record
// of that user and family (runEnding).
func (s *Store) endMemberSharded(ctx context.Context, op, family, key string, now time.Time) (*storekit.IndexedRecord, error) {
	var user, cutoff *redis.StringCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		user = p.HGet(ctx, s.sessionKey(key), fieldUser)
		cutoff = p.Get(ctx, s.allKey()) // another slot: sent in parallel
		return nil
	})
	if err := pipelineErr(err, user, cutoff); err != nil {
		return nil, wrapErr(op, err)
	}
	u, err := user.Result()
	if errors.Is(err, redis.Nil) {
		return nil, familyNotFound(op, "no live record")
	}
	if err != nil {
		return nil, wrapErr(op, err)
	}
	c, err := cutoffOf(cutoff)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	var gen uint64
	if u != "" {
		if gen, err = s.generation(ctx, op, u); err != nil {
			return nil, err
		}
	}
	res, err := s.runEnding(ctx, op, endMemberScript, []string{s.sessionKey(key), s.tombKey(key)},
		key, family, now.UnixMilli(), c, u, strconv.FormatUint(gen, 10)).StringSlice()
	if errors.Is(err, redis.Nil) {
		return nil, familyNotFound(op, "no live record")
	}
	if err != nil {
		return nil, wrapErr(op, err)
	}
	r, err := decodeHash(op, pairs(res))
	if err != nil {
		return nil, err
	}
	return &storekit.IndexedRecord{Key: key, Meta: r.Meta}, nil
}

// pointFamily is rotateSharded's last step for a renewal whose family is
// not its new key: it makes the new key the family's live key, or reports
// ErrNotFound when EndFamily ended the family meanwhile (the caller then
// deletes the new record).
func (s *Store) pointFamily(ctx context.Context, op, newKey string, r *storekit.Record, now time.Time) error {
	// Through the durable path: the pointer is what a later logout or
	// reuse ends the session by, so a failover must not lose it once the
	// renewal returned (its master is not the record's; WithDurability).
	ok, err := s.runEnding(ctx, op, pointFamilyScript, []string{s.familyKey(r.Family)},
		newKey, now.UnixMilli(), s.familyUntil(now, &r.Meta).UnixMilli()).Int()
	if err != nil {
		return wrapErr(op, err)
	}
	if ok != 1 {
		return fmt.Errorf("session: redis store: %s: family ended meanwhile: %w", op, storekit.ErrNotFound)
	}
	return nil
}

// pairs turns a flat field, value list (an odd trailing item is dropped)
// into a map.
func pairs(list []string) map[string]string {
	m := make(map[string]string, len(list)/2)
	for i := 0; i+1 < len(list); i += 2 {
		m[list[i]] = list[i+1]
	}
	return m
}
