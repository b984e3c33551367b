package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessionkit/session/internal/storekit"
)

// refreshScript is the whole of Refresh on a single server or Sentinel
// (lua/refresh.lua).
var refreshScript = redisScript("refresh.lua")

// Refresh implements session.Refresher: on a single server or Sentinel one script
// renews a header session in one round trip (see lua/refresh.lua). On
// a Cluster, where the user's keys live in other slots, it reports
// errors.ErrUnsupported and the Manager loads, then rotates.
func (s *Store) Refresh(ctx context.Context, oldKey, newKey string, at time.Time) (*storekit.Meta, error) {
	const op = "refresh"
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("session: redis store: %s: %w", op, err)
	}
	sharded, err := s.sharded(ctx)
	if err != nil {
		return nil, err
	}
	if sharded {
		return nil, fmt.Errorf("session: redis store: %s on a Cluster: %w", op, errors.ErrUnsupported)
	}
	keys := []string{s.sessionKey(oldKey), s.tombKey(oldKey), s.sessionKey(newKey), s.tombKey(newKey)}
	now := s.now()
	// It retires the old token: with durability on, WAIT follows it.
	res, err := s.runEnding(ctx, op, refreshScript, keys, s.genPrefix, s.prefix+"user:{", now.UnixMilli(),
		oldKey, newKey, s.maxLifetime.Milliseconds(), unixMs(at), s.allKey(), s.prefix+"{").Slice()
	if err != nil {
		return nil, wrapErr(op, err)
	}
	if len(res) == 0 {
		return nil, broken(op, "reply")
	}
	switch code, _ := res[0].(int64); code {
	case 0:
	case 1:
		tomb := ""
		if len(res) > 1 {
			tomb, _ = res[1].(string)
		}
		return nil, notFound(op, tomb, now)
	case 2:
		return nil, fmt.Errorf("session: redis store: %s: not a header session: %w", op, storekit.ErrNotFound)
	case 3:
		return nil, corrupt(op, "record")
	default:
		return nil, broken(op, "reply")
	}
	fields := make(map[string]string, len(res)/2)
	for i := 1; i+1 < len(res); i += 2 {
		k, ok1 := res[i].(string)
		v, ok2 := res[i+1].(string)
		if !ok1 || !ok2 {
			return nil, broken(op, "reply")
		}
		fields[k] = v
	}
	r, err := decodeHash(op, fields)
	if err != nil {
		return nil, err
	}
	return &r.Meta, nil
}
