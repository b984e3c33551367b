package session

import (
	"sync"
	"time"
)

// bruteForce counts rejected session IDs per client IP. STUB: replaced by the
// bounded sliding-window implementation.
type bruteForce struct {
	cfg BruteForceConfig
	mu  sync.Mutex
}

func newBruteForce(cfg BruteForceConfig) *bruteForce { return &bruteForce{cfg: cfg} }

// reject counts one rejected ID from ip at now and reports whether this
// rejection took ip over the threshold (true once per crossing).
func (b *bruteForce) reject(ip string, now time.Time) bool { return false }

// blocked reports whether ip is over the threshold at now.
func (b *bruteForce) blocked(ip string, now time.Time) bool { return false }
