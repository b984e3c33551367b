package session_test

import (
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/storetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) session.Store {
		s := session.NewMemoryStore(session.WithSweepInterval(100 * time.Millisecond))
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
