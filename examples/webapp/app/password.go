package app

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"sync"
	"sync/atomic"
)

// DefaultIterations is the PBKDF2-HMAC-SHA256 work factor OWASP recommends.
const DefaultIterations = 600_000

// passwordHash is a salted PBKDF2-HMAC-SHA256 hash.
type passwordHash struct {
	salt []byte
	key  []byte
	iter int
}

func hashPassword(password string, iter int) (passwordHash, error) {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt) // never fails (Go 1.24+)
	key, err := pbkdf2.Key(sha256.New, password, salt, iter, 32)
	if err != nil {
		return passwordHash{}, err
	}
	return passwordHash{salt: salt, key: key, iter: iter}, nil
}

// verify compares in constant time.
func (h passwordHash) verify(password string) bool {
	key, err := pbkdf2.Key(sha256.New, password, h.salt, h.iter, len(h.key))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(key, h.key) == 1
}

// users is the app's in-memory user database.
type users struct {
	mu     sync.RWMutex
	iter   int
	byID   map[string]passwordHash
	dummy  passwordHash // checked for unknown names, so timing does not reveal which names exist
	checks atomic.Int64 // password hashes computed by check, for tests
}

func newUsers(iter int) (*users, error) {
	dummy, err := hashPassword("not a password", iter)
	if err != nil {
		return nil, err
	}
	return &users{iter: iter, byID: make(map[string]passwordHash), dummy: dummy}, nil
}

func (u *users) set(name, password string) error {
	h, err := hashPassword(password, u.iter)
	if err != nil {
		return err
	}
	u.mu.Lock()
	u.byID[name] = h
	u.mu.Unlock()
	return nil
}

// check reports whether name exists and password is theirs. It costs the
// same for unknown names.
func (u *users) check(name, password string) bool {
	u.checks.Add(1)
	u.mu.RLock()
	h, ok := u.byID[name]
	u.mu.RUnlock()
	if !ok {
		u.dummy.verify(password)
		return false
	}
	return h.verify(password)
}

var errWeakPassword = errors.New("the new password must be 8 to 128 characters long")

func validNewPassword(p string) error {
	if n := len([]rune(p)); n < 8 || len(p) > 128 {
		return errWeakPassword
	}
	return nil
}
