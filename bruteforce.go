package session

import (
	"time"

	"github.com/sessionkit/session/internal/slidingwindow"
)

// bruteForce counts rejected session IDs per client in a sliding window and
// says when a client crosses BruteForceConfig.Threshold. The counting, and
// the bound of BruteForceConfig.MaxTracked clients whatever the number of
// addresses an attack comes from, are internal/slidingwindow's; what counts
// as one client is decided here (slidingwindow.IPKey).
//
// IPv6 clients are counted per /64, the block a single subscriber normally
// gets: counting single addresses would let one attacker rotate through 2^64
// of them and never cross the threshold.
type bruteForce struct {
	t *slidingwindow.Table
}

// newBruteForce returns a counter for cfg (already validated: positive
// Threshold, Window and MaxTracked).
func newBruteForce(cfg BruteForceConfig) *bruteForce {
	return &bruteForce{t: slidingwindow.New(cfg.Threshold, cfg.Window, cfg.MaxTracked)}
}

// reject counts one rejected ID from ip at now and reports whether this
// rejection took ip's count to the threshold: true once per episode, and
// again only after the count has fallen back to half the threshold.
func (b *bruteForce) reject(ip string, now time.Time) (crossed bool) {
	return b.t.Add(slidingwindow.IPKey(ip), now)
}

// blocked reports whether ip is over the threshold at now. It allocates
// nothing and adds no entry.
func (b *bruteForce) blocked(ip string, now time.Time) bool {
	return b.t.Reached(slidingwindow.IPKey(ip), now)
}

// size returns the number of clients tracked.
func (b *bruteForce) size() int { return b.t.Len() }
