package storetest_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/storetest"
)

// plainStore hides every optional interface of the store it wraps.
type plainStore struct{ session.Store }

// TestRunWithoutRotator runs the suite, in a child process, against a store
// that lacks session.Rotator: it must fail, and say why.
func TestRunWithoutRotator(t *testing.T) {
	if os.Getenv("STORETEST_CHILD") == "1" {
		storetest.Run(t, func(t *testing.T) session.Store {
			s := session.NewMemoryStore()
			t.Cleanup(func() { _ = s.Close() })
			return plainStore{s}
		})
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestRunWithoutRotator$/^Rotator$", "-test.v")
	cmd.Env = append(os.Environ(), "STORETEST_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the suite passed a store without Rotate:\n%s", out)
	}
	if !strings.Contains(string(out), "--- FAIL: TestRunWithoutRotator/Rotator") ||
		!strings.Contains(string(out), "renewal cannot be atomic") {
		t.Fatalf("want the Rotator test to fail with a clear message, got:\n%s", out)
	}
}
