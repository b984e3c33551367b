package storetest_test

import (
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/storetest"
)

// A store author runs the conformance suite from a test of their own
// package, as func TestMyStore(t *testing.T) { ... }. newStore returns an
// empty store and registers its cleanup; the memory store stands in for
// yours here.
func ExampleRun() {
	testMyStore := func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) session.Store {
			s := session.NewMemoryStore() // your store
			t.Cleanup(func() { _ = s.Close() })
			return s
		})
	}
	_ = testMyStore
}
