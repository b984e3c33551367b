package main

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
)

// openRedis connects to the Redis server named by a redis:// URL and
// returns a session store on it, the server's address, and a func that
// closes the client.
func openRedis(url string) (session.Store, string, func(), error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, "", nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, "", nil, fmt.Errorf("redis at %s: %w", opts.Addr, err)
	}
	return session.NewRedisStore(client), opts.Addr, func() { _ = client.Close() }, nil
}
