package session_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// After a Redis flush, 50 logged-in users behind one office IP come back:
// each is refused as unknown and starts afresh, but no brute-force event is
// raised and, with Block, nobody is answered 429. Forged IDs from the same
// IP still raise it: malformed ones without SigningKeys, ones failing their
// MAC with them.
func TestBruteForceIgnoresFlushedRedis(t *testing.T) {
	srv := redistest.StartServer(t)
	for _, signed := range []bool{false, true} {
		t.Run(fmt.Sprintf("SigningKeys=%v", signed), func(t *testing.T) {
			cfg := session.Config{
				Store:      session.NewRedisStore(srv.Client(t), session.WithKeyPrefix(randomPrefix())),
				BruteForce: session.BruteForceConfig{Threshold: 20, Block: true},
			}
			if signed {
				cfg.SigningKeys = [][]byte{[]byte("0123456789abcdef0123456789abcdef")}
			}
			e := newEnv(t, cfg, testApp())
			users := make([]*client, 50)
			issued := make([]string, len(users))
			for i := range users {
				users[i] = e.client()
				res, _ := users[i].post(fmt.Sprintf("/login?u=user%d", i))
				require.Equal(t, 200, res.StatusCode)
				issued[i] = users[i].token()
			}
			require.NoError(t, srv.Client(t).FlushAll(context.Background()).Err())
			for i, u := range users {
				res, body := u.get("/whoami")
				require.Equal(t, 200, res.StatusCode, "user %d after the flush", i)
				assert.Empty(t, body)
			}
			assert.NotContains(t, e.events.kinds(), session.EventBruteForce, "a flush is not an attack")
			assert.Contains(t, e.events.kinds(), session.EventRejected)

			attacker := e.client()
			for i := range 20 {
				forged := fmt.Sprintf("forged-%d", i)
				if signed { // an issued value with its ID changed: the MAC fails
					first := byte('A')
					if issued[i][0] == first {
						first = 'B'
					}
					forged = string(first) + issued[i][1:]
				}
				attacker.setToken(forged)
				attacker.get("/whoami")
			}
			assert.Contains(t, e.events.kinds(), session.EventBruteForce, "forged IDs are counted")
			attacker.setToken("forged-again")
			res, _ := attacker.get("/whoami")
			assert.Equal(t, 429, res.StatusCode)
		})
	}
}
