package session

import (
	"context"
	"net/netip"
	"time"

	"github.com/sessionkit/session/internal/clientstr"
)

// checkBinding compares the request's device with the one recorded at login
// and applies the policy. The caller holds s.mu and has just loaded s.rec.
func (s *Session) checkBinding(ctx context.Context) {
	m := s.m
	ua, ip := s.req.UserAgent(), m.clientIP(s.req)
	if clientstr.Clean(ua) == s.rec.UserAgent && samePrefix(ip, s.rec.IP) {
		return
	}
	s.queue(s.event(EventBindingChanged, s.token, s.rec.UserID, "was "+s.rec.IP))
	switch m.cfg.Binding {
	case BindReauth:
		s.rec.AuthenticatedAt, s.rec.Methods = time.Time{}, ""
	case BindDestroy:
		if err := s.storeDelete(ctx, "delete on binding change", s.key); err != nil {
			s.err = err
			return
		}
		s.reset()
		s.expireCookie = true
	}
}

// samePrefix reports whether two addresses share their /24 (IPv4) or /64
// (IPv6) network.
func samePrefix(a, b string) bool {
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	x, y = x.Unmap(), y.Unmap()
	if x.Is4() != y.Is4() {
		return false
	}
	bits := 64
	if x.Is4() {
		bits = 24
	}
	px, _ := x.Prefix(bits)
	py, _ := y.Prefix(bits)
	return px == py
}
