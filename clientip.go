package session

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientIP returns the client address recorded for devices and events: the
// connection's RemoteAddr, unless that is a configured trusted proxy, in which
// case the right-most X-Forwarded-For entry that is not itself a trusted proxy.
// Forwarded headers are never believed by default: any client can send them.
func (m *Manager) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(m.cfg.TrustedProxies) == 0 {
		return host
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || !m.trustedProxy(addr) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return host // a malformed hop: stop believing the chain
		}
		if !m.trustedProxy(hop) {
			return hop.Unmap().String()
		}
		host = hop.Unmap().String()
	}
	return host
}

func (m *Manager) trustedProxy(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range m.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
