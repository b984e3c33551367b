package bench

import (
	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/session"
)

func init() {
	newOursRedisStore = func(c *redis.Client) session.Store { return session.NewRedisStore(c) }
}
