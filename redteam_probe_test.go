package session_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
)

// TestRedteamProbeCapMixed (a probe that held): 24 clients of one user run
// Login, Renew, Reauthenticate and RevokeOthers concurrently, 12 rounds
// each, against MaxSessionsPerUser 2; afterwards at most 2 of them are
// logged in and the device list holds at most 2.
func TestRedteamProbeCapMixed(t *testing.T) {
	lifecycleStores(t, func(t *testing.T, sc storeCase) {
		for _, policy := range []session.LimitPolicy{session.EvictOldest, session.RefuseNew} {
			t.Run(fmt.Sprint(policy), func(t *testing.T) {
				e, _ := lifecycleEnv(t, sc, session.Config{MaxSessionsPerUser: 2, OnLimit: policy})
				const n = 24
				clients := make([]*client, n)
				for i := range clients {
					clients[i] = e.client()
				}
				paths := []string{"/login?u=erin", "/renew", "/reauth", "/revoke-others", "/login?u=erin"}
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i, c := range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						for r := range 12 {
							c.post(paths[(i+r*7)%len(paths)])
						}
					}()
				}
				close(start)
				wg.Wait()
				live := 0
				for _, c := range clients {
					if _, body := c.get("/whoami"); body == "erin" {
						live++
					}
				}
				infos, err := e.m.Sessions(context.Background(), "erin")
				require.NoError(t, err)
				assert.LessOrEqual(t, live, 2, "more clients logged in than the cap")
				assert.LessOrEqual(t, len(infos), 2, "device list over the cap")
			})
		}
	})
}
