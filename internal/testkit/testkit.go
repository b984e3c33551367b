// Package testkit holds the test helpers that the root package and the
// nested modules share: a log sink, the scan that proves no secret a test
// handed out was ever logged (ASVS 16.2.5), and a settable clock.
package testkit

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Buffer is a log sink safe for concurrent writers.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Scan is what [Main] checks after the suite: the suite's log and every
// secret (session ID, access or refresh token) a test client received.
type Scan struct {
	// Log receives every line any test Manager logs.
	Log Buffer
	// Secrets holds each secret as a key (the value is ignored).
	Secrets sync.Map
	// What names the secrets in the failure message ("session token").
	What string
	// Proof, when set, must hold for the log of a full run; it says what a
	// full run must have logged for the scan to prove anything.
	Proof func(logs string) bool
}

// Record notes secrets for the scan.
func (s *Scan) Record(secrets ...string) {
	for _, v := range secrets {
		if v != "" {
			s.Secrets.Store(v, struct{}{})
		}
	}
}

// Main runs the suite and exits: with failure when a recorded secret
// appears in the log, or when a full run (no -run filter) recorded no
// secret or fails Proof, since then the scan proved nothing.
func Main(m *testing.M, s *Scan) {
	code := m.Run()
	logs := s.Log.String()
	n := 0
	s.Secrets.Range(func(k, _ any) bool {
		n++
		if strings.Contains(logs, k.(string)) {
			fmt.Fprintf(os.Stderr, "FAIL: a raw %s appears in the logs\n", s.What)
			code = 1
			return false
		}
		return true
	})
	full := flag.Lookup("test.run").Value.String() == ""
	if code == 0 && full && (n == 0 || (s.Proof != nil && !s.Proof(logs))) {
		fmt.Fprintf(os.Stderr, "FAIL: the log scan saw no %s or not what a full run logs: the test clients are not recording them\n", s.What)
		code = 1
	}
	os.Exit(code)
}

// Clock is a settable clock for timeout tests, safe for concurrent use.
// Share one between a Manager and its store: a test whose clocks differ
// from production proves nothing.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
