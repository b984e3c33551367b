package ratelimit

// Len returns the number of keys the Limiter tracks (for the external
// tests).
func (l *Limiter) Len() int { return l.size() }
