package session

// fnv32 is FNV-1a: a fast, allocation-free spread of arbitrary keys (the
// middleware's record of the values a request wrote).
func fnv32(k string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(k); i++ {
		h ^= uint32(k[i])
		h *= 16777619
	}
	return h
}
