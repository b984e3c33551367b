package session

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestClientIPTrustsForwardedHeadersOnlyFromConfiguredProxies(t *testing.T) {
	req := func(remote string, xff ...string) *http.Request {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		for _, v := range xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		return r
	}
	plain := &Manager{}
	proxied := &Manager{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}}
	for _, tc := range []struct {
		m    *Manager
		r    *http.Request
		want string
	}{
		{plain, req("203.0.113.5:4000", "1.2.3.4"), "203.0.113.5"},             // never trusted by default
		{proxied, req("203.0.113.5:4000", "1.2.3.4"), "203.0.113.5"},           // not from a proxy
		{proxied, req("10.0.0.2:80", "1.2.3.4"), "1.2.3.4"},                    // one trusted hop
		{proxied, req("10.0.0.2:80", "6.6.6.6, 1.2.3.4, 10.0.0.9"), "1.2.3.4"}, // right-most untrusted
		{proxied, req("10.0.0.2:80", "6.6.6.6", "1.2.3.4"), "1.2.3.4"},         // several headers
		{proxied, req("10.0.0.2:80", "garbage"), "10.0.0.2"},                   // malformed chain
		{proxied, req("10.0.0.2:80"), "10.0.0.2"},                              // no header
		{proxied, req("[::1]:80", "2001:db8::1"), "2001:db8::1"},
		{plain, req("not-an-addr"), "not-an-addr"},
	} {
		if got := tc.m.clientIP(tc.r); got != tc.want {
			t.Errorf("clientIP(%s, %v) = %q, want %q", tc.r.RemoteAddr, tc.r.Header.Values("X-Forwarded-For"), got, tc.want)
		}
	}
}
