package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/sessionkit/session"
)

// openCookieStore returns a session.CookieStore for -store cookie. keys is
// SESSION_KEYS: comma-separated base64 keys of 32 random bytes, the first
// sealing, all opening (rotate by putting a new key first). Empty: one
// random key per start, so every session ends when the demo restarts.
func openCookieStore(keys string) (session.Store, string, error) {
	if keys == "" {
		k := make([]byte, 32)
		_, _ = rand.Read(k)
		cs, err := session.NewCookieStore(k)
		return cs, "random key (set SESSION_KEYS to keep sessions across restarts)", err
	}
	var raw [][]byte
	for i, s := range strings.Split(keys, ",") {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
		if err != nil {
			return nil, "", fmt.Errorf("SESSION_KEYS: key %d is not base64: %w", i, err)
		}
		raw = append(raw, k)
	}
	cs, err := session.NewCookieStore(raw...)
	if err != nil {
		return nil, "", fmt.Errorf("SESSION_KEYS: %w", err)
	}
	return cs, fmt.Sprintf("%d key(s) from SESSION_KEYS", len(raw)), nil
}
