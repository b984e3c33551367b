package redisstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/session/internal/storekit"
)

// sharded reports whether the client is a Cluster: known from its type or
// WithCluster, or else asked once of the server with CLUSTER INFO (a client
// wrapping a ClusterClient, such as an AutoPipeliner, routes it to a node
// that answers; a single server or Sentinel replies that cluster support is
// disabled). A failure to ask is an error, tried again next time.
func (s *Store) sharded(ctx context.Context) (bool, error) {
	if s.clusterKnown.Load() {
		return s.cluster, nil
	}
	s.clusterMu.Lock()
	defer s.clusterMu.Unlock()
	if s.clusterKnown.Load() {
		return s.cluster, nil
	}
	info, err := s.client.ClusterInfo(ctx).Result()
	switch {
	case err == nil:
		s.cluster = strings.Contains(info, "cluster_enabled:1") || strings.Contains(info, "cluster_state:")
	case isReplyError(err):
		// The server answered, refusing: "cluster support disabled",
		// an unknown or unsupported command.
		s.cluster = false
	default:
		return false, wrapErr("cluster detection", err)
	}
	s.clusterKnown.Store(true)
	return s.cluster, nil
}

// loadSharded is Load on a Cluster: the user's generation key lives in the
// user's slot, maybe on another node than the session, so it is read in a
// second step, and only for a logged-in session (see checkSharded). The
// tombstone shares the session's slot and is read with it.
func (s *Store) loadSharded(ctx context.Context, key string) (*storekit.Record, error) {
	const op = "load"
	var all *redis.MapStringStringCmd
	var tomb, cutoff *redis.StringCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		all = p.HGetAll(ctx, s.sessionKey(key))
		tomb = p.Get(ctx, s.tombKey(key))
		cutoff = p.Get(ctx, s.allKey()) // another slot: sent in parallel
		return nil
	})
	if err := pipelineErr(err, all, tomb, cutoff); err != nil {
		return nil, wrapErr(op, err)
	}
	fields, err := all.Result()
	if err != nil {
		return nil, wrapErr(op, err)
	}
	if len(fields) == 0 {
		if err := tomb.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return nil, wrapErr(op, err)
		}
		return nil, notFound(op, tomb.Val(), s.now())
	}
	r, err := decodeHash(op, fields)
	if err != nil {
		return nil, err
	}
	c, err := cutoffOf(cutoff)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	if err := revokedByAll(op, r, c); err != nil {
		return nil, err
	}
	if err := s.checkSharded(ctx, op, key, r); err != nil {
		return nil, err
	}
	return r, nil
}

// checkSharded is loadSharded's second step for the record r found under
// key: the user's generation and, for a renewed record, its family's
// pointer live in other slots and are read in parallel (one round trip,
// none for an anonymous record of its own family).
func (s *Store) checkSharded(ctx context.Context, op, key string, r *storekit.Record) error {
	pointed := needsPointer(key, r.Family)
	if r.UserID == "" && !pointed {
		return nil
	}
	var gen, ptr *redis.StringCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		if r.UserID != "" {
			gen = p.Get(ctx, s.genKey(r.UserID))
		}
		if pointed {
			ptr = p.Get(ctx, s.familyKey(r.Family))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return wrapErr(op, err)
	}
	if gen != nil {
		cur, ok := parseGen(gen.Val())
		if !ok {
			return broken(op, "generation")
		}
		if r.Generation < cur {
			return fmt.Errorf("session: redis store: %s: %w", op, &storekit.Tombstone{Reason: storekit.EndRevoked})
		}
	}
	if pointed && ptr.Val() != "="+key {
		// On a Cluster the pointer lives on another master than the
		// record: one that lost it (a flush, a failover without
		// WithDurability) must end the session, not leave it live where
		// no logout or reuse can find it. A renewal in flight points the
		// family at its new key last, before anyone holds that key.
		return fmt.Errorf("session: redis store: %s: family pointer lost or moved: %w", op, storekit.ErrNotFound)
	}
	return nil
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
//     fails;
//  6. when the family is not the new key, the family's pointer is set to
//     the new key in its slot (pointFamily), unless EndFamily marked the
//     family ended meanwhile: the new record is then deleted and the
//     renewal fails (see endFamilySharded for why this order wins every
//     race). Otherwise the evicted sessions end.
func (s *Store) rotateSharded(ctx context.Context, rot *storekit.Rotation) ([]storekit.IndexedRecord, error) {
	const op = "rotate"
	now := s.now()
	user := rot.Meta.UserID
	victims, unlock, err := s.lockAndCount(ctx, op, rot)
	if err != nil {
		return nil, err
	}
	defer unlock()
	old, err := s.claimOld(ctx, op, rot, now)
	if err != nil {
		return nil, err
	}
	if user != "" && rot.RevokeUser {
		if err := s.RevokeUser(ctx, user); err != nil {
			return nil, err
		}
	}
	if rot.OldKey != "" && old == nil {
		return nil, fmt.Errorf("session: redis store: %s: %w", op, storekit.ErrNotFound)
	}
	gen, err := s.renewalGeneration(ctx, op, rot, old)
	if err != nil {
		return nil, err
	}
	r := rot.NewRecord(old)
	r.Generation = gen
	if err := s.createRenewal(ctx, op, rot, old, r, now); err != nil {
		return nil, err
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

// lockAndCount is step 1 of rotateSharded: for a logged-in renewal under a
// cap it takes the user's lock and, unless the renewal revokes the user
// (which ends every other session anyway), picks the sessions to evict.
// The returned func releases the lock (a no-op when none was taken).
func (s *Store) lockAndCount(ctx context.Context, op string, rot *storekit.Rotation) ([]storekit.IndexedRecord, func(), error) {
	user := rot.Meta.UserID
	if user == "" || rot.MaxSessions <= 0 {
		return nil, func() {}, nil
	}
	unlock, err := s.lockUser(ctx, op, user)
	if err != nil {
		return nil, nil, err
	}
	if rot.RevokeUser {
		return nil, unlock, nil
	}
	live, err := s.UserSessions(ctx, user)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	victims, err := rot.Victims(live)
	if err != nil {
		unlock()
		return nil, nil, fmt.Errorf("session: redis store: %s: %w", op, err)
	}
	return victims, unlock, nil
}

// claimOld is step 2 of rotateSharded: the old record, if the renewal has
// one, is read and replaced by its renewal tombstone in one script
// (claimScript, through runEnding). It returns nil when the old record is
// gone.
func (s *Store) claimOld(ctx context.Context, op string, rot *storekit.Rotation, now time.Time) (*storekit.Record, error) {
	if rot.OldKey == "" {
		return nil, nil
	}
	family := rot.Meta.Family
	if family == "" {
		family = rot.NewKey
	}
	fields, err := s.runEnding(ctx, op, claimScript, []string{s.sessionKey(rot.OldKey), s.tombKey(rot.OldKey)},
		unixMs(rot.Meta.LastSeen), now.UnixMilli(), rot.NewKey, family).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, wrapErr(op, err)
	}
	if len(fields) == 0 {
		return nil, nil
	}
	return decodeHash(op, pairs(fields))
}

// renewalGeneration is step 4 of rotateSharded, before the new record is
// written: it checks the old record's generation against its user's
// (unless the renewal revoked that user itself) and returns the generation
// the new record gets: the old one's for a renewal of the same user that
// does not revoke, the user's current one otherwise.
func (s *Store) renewalGeneration(ctx context.Context, op string, rot *storekit.Rotation, old *storekit.Record) (uint64, error) {
	user := rot.Meta.UserID
	var gen uint64
	if user != "" {
		var err error
		if gen, err = s.generation(ctx, op, user); err != nil {
			return 0, err
		}
	}
	if old == nil {
		return gen, nil
	}
	if old.UserID != "" {
		cur := gen
		if old.UserID != user {
			var err error
			if cur, err = s.generation(ctx, op, old.UserID); err != nil {
				return 0, err
			}
		}
		if old.Generation < cur && !(rot.RevokeUser && old.UserID == user) {
			return 0, fmt.Errorf("session: redis store: %s: revoked: %w", op, storekit.ErrNotFound)
		}
	}
	if old.UserID == user && !rot.RevokeUser {
		return old.Generation, nil
	}
	return gen, nil
}

// createRenewal writes the new record r of rot (steps 4 to 6 of
// rotateSharded): the hash, then for a logged-in renewal the index and the
// generation's recheck, then the family's pointer. On failure the new
// record is deleted.
func (s *Store) createRenewal(ctx context.Context, op string, rot *storekit.Rotation, old, r *storekit.Record, now time.Time) error {
	if err := s.writeHash(ctx, rot.NewKey, r, r.Generation, "", now); err != nil {
		return wrapErr(op, err)
	}
	if rot.Meta.UserID != "" {
		if err := s.recheckGeneration(ctx, op, rot, old, r, now); err != nil {
			return err
		}
	}
	if needsPointer(rot.NewKey, r.Family) {
		if err := s.pointFamily(ctx, op, rot.NewKey, r, now); err != nil {
			_ = s.client.Del(context.WithoutCancel(ctx), s.sessionKey(rot.NewKey)).Err()
			return err
		}
	}
	return nil
}

// recheckGeneration is step 5 of rotateSharded for a logged-in renewal r
// (of old, if any), just created: the user's index and generation share a
// slot, so one round trip indexes the new key, drops the old one and reads
// the generation again. If it moved, or on failure, the new record is
// deleted.
func (s *Store) recheckGeneration(ctx context.Context, op string, rot *storekit.Rotation, old, r *storekit.Record, now time.Time) error {
	user := rot.Meta.UserID
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
		return wrapErr(op, err)
	}
	if err := genCmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
		_ = s.client.Del(context.WithoutCancel(ctx), s.sessionKey(rot.NewKey)).Err()
		return wrapErr(op, err)
	}
	if cur, ok := parseGen(genCmd.Val()); !ok || cur > r.Generation {
		_ = s.client.Del(context.WithoutCancel(ctx), s.sessionKey(rot.NewKey)).Err()
		return fmt.Errorf("session: redis store: %s: revoked meanwhile: %w", op, storekit.ErrNotFound)
	}
	return nil
}

// lockUser takes the user's renewal lock on a Cluster (a key in the user's
// slot, SET NX with a random owner and a short TTL, so a crashed holder
// cannot block the user for long), waiting with backoff while another
// renewal holds it. The returned func releases it if still owned.
//
// How long it waits is a duration, not a time the store records, so it is
// measured with a timer rather than read from the store's clock (a frozen
// clock must not make a caller wait forever).
func (s *Store) lockUser(ctx context.Context, op, user string) (func(), error) {
	key := s.prefix + "lock:{" + encodeUserID(user) + "}"
	owner := rand.Text() // at least 128 random bits: only this renewal releases the lock
	wait := time.Millisecond
	giveUp := time.NewTimer(userLockTTL)
	defer giveUp.Stop()
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
		select {
		case <-giveUp.C:
			return nil, fmt.Errorf("session: redis store: %s: %w: the user's renewal lock stayed taken", op, storekit.ErrStore)
		default:
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("session: redis store: %s: %w", op, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// userLockTTL bounds how long a renewal on a Cluster may hold its user's
// lock, and how long another waits for it.
const userLockTTL = 5 * time.Second
