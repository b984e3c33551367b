// Package valueseal is the engine of session.SealValues: a store wrapper
// that seals every session value at rest with AES-256-GCM, bound to its
// session's store key and its own name, and records each renewal so the
// renewed session still opens the values it carried over.
package valueseal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/sessionkit/session/internal/clientstr"
	"github.com/sessionkit/session/internal/sealing"
	"github.com/sessionkit/session/internal/storekit"
	"github.com/sessionkit/session/internal/storewrap"
)

// Wrap returns inner wrapped so that values are sealed under ring, with
// exactly the optional interfaces of storewrap that inner has (S is the
// caller's store type).
func Wrap[S storewrap.Store](inner S, ring *sealing.Ring) S {
	s := &store{inner: inner, ring: ring}
	p := storewrap.Parts[S]{Inner: inner, Store: s, Refresher: s}
	if idx, ok := any(inner).(storewrap.UserIndex); ok {
		p.UserIndex = idx // user indexes hold no values
	}
	if f, ok := any(inner).(storewrap.Fleet); ok {
		p.Fleet = f // values play no part in RevokeAll and Count
	}
	if rot, ok := any(inner).(storewrap.Rotator); ok {
		p.Rotator = &rotator{s, rot}
	}
	if ec, ok := any(inner).(storewrap.EndingCreator); ok {
		p.EndingCreator = &ending{s, ec}
	}
	return storewrap.Wrap(p)
}

// Seal returns v sealed under ring as the value name of the session under
// key, as the wrapper stores it (the golden fixtures pin this format).
func Seal(ring *sealing.Ring, key, name string, v []byte) []byte {
	return (&store{ring: ring}).sealValue(key, name, v)
}

// rotator is the Rotator of a SealValues store.
type rotator struct {
	*store
	rot storewrap.Rotator
}

// ending is the endingCreator of a SealValues store.
type ending struct {
	s  *store
	ec storewrap.EndingCreator
}

// CreateEnding implements storewrap.EndingCreator: r's values (an ending record has
// none, but the contract is Create's) are sealed for key.
func (e *ending) CreateEnding(ctx context.Context, key string, r *storekit.Record) error {
	return e.ec.CreateEnding(ctx, key, &storekit.Record{Meta: r.Meta, Values: e.s.sealAll(key, r.Values)})
}

// store seals values on their way into inner and opens them on the
// way out.
type store struct {
	inner storewrap.Store
	ring  *sealing.Ring
}

// Refresh implements Refresher when the inner store does, and always
// answers errors.ErrUnsupported: a one-step renewal copies the values
// sealed for the old key without the renewal entry that lets the new key
// open them (Rotate writes it), so the Manager must renew with a Rotate.
func (s *store) Refresh(context.Context, string, string, time.Time) (*storekit.Meta, error) {
	return nil, fmt.Errorf("session: sealed values: Refresh: values are bound to the key, only Rotate renews them: %w", errors.ErrUnsupported)
}

// valuePurpose separates sealed values from sealed cookies.
const valuePurpose = "sessionkit value v1"

// renewalPrefix names the entry recording a renewal: prefix, old key, NUL,
// new key. Its sealed (empty) value is bound to its name, so only the
// renewed session can hold it.
const renewalPrefix = "\x00renewed\x00"

// bindTagLen is the length of the prefix of the binding key a sealed value
// starts with: it tells which key of a renewal chain to open it under
// without trying each (the binding itself is the AEAD's).
const bindTagLen = 4

// sealValue seals v as the value name of the session under key.
func (s *store) sealValue(key, name string, v []byte) []byte {
	out := make([]byte, 0, bindTagLen+sealing.SealedLen(len(v)))
	out = append(out, tagOf(key)...)
	return s.ring.Seal(out, v, sealing.AD(valuePurpose, key, "\x00", name))
}

func tagOf(key string) string { return key[:min(bindTagLen, len(key))] }

// sealAll returns a copy of vals with every value sealed for key.
func (s *store) sealAll(key string, vals map[string][]byte) map[string][]byte {
	if vals == nil {
		return nil
	}
	out := make(map[string][]byte, len(vals))
	for name, v := range vals {
		out[name] = s.sealValue(key, name, v)
	}
	return out
}

// openAll replaces r's sealed values, stored under key, by their
// plaintexts: values that do not open are dropped (and logged), renewal
// entries removed.
func (s *store) openAll(ctx context.Context, key string, r *storekit.Record) {
	if len(r.Values) == 0 {
		return
	}
	chain := s.renewalChain(key, r.Values)
	var ad []byte // reused: Open keeps no reference to it
	for name, env := range r.Values {
		if strings.HasPrefix(name, "\x00") {
			delete(r.Values, name)
			continue
		}
		if plain, ok := s.openValue(chain, name, env, &ad); ok {
			r.Values[name] = plain
			continue
		}
		delete(r.Values, name)
		slog.Default().WarnContext(ctx, "session: a sealed value does not open: moved from another session, renamed, tampered with, or sealed under a dropped key; it reads as absent",
			slog.String("value", clientstr.Clean(name)), slog.String("session_key_prefix", tagOf(key)))
	}
}

// renewalChain returns key and the keys it was renewed from, as proven by
// the renewal entries among vals.
func (s *store) renewalChain(key string, vals map[string][]byte) []string {
	chain := []string{key}
	for grew := true; grew; {
		grew = false
		for name, env := range vals {
			rest, ok := strings.CutPrefix(name, renewalPrefix)
			if !ok {
				continue
			}
			old, renewed, ok := strings.Cut(rest, "\x00")
			if !ok || old == "" || contains(chain, old) || !contains(chain, renewed) {
				continue
			}
			if _, _, err := s.ring.Open(nil, env, sealing.AD(valuePurpose, name)); err == nil {
				chain = append(chain, old)
				grew = true
			}
		}
	}
	return chain
}

// openValue opens a value sealed for one of the keys of chain, in place
// (the record is the caller's) when a single key of the chain bears its
// tag. ad is a buffer to reuse.
func (s *store) openValue(chain []string, name string, env []byte, ad *[]byte) ([]byte, bool) {
	if len(env) < bindTagLen {
		return nil, false
	}
	tag, env := string(env[:bindTagLen]), env[bindTagLen:]
	matches := 0
	for _, k := range chain {
		if tagOf(k) == tag {
			matches++
		}
	}
	for _, k := range chain {
		if tagOf(k) != tag {
			continue
		}
		*ad = append(append(append(append((*ad)[:0], valuePurpose...), 0), k...), 0)
		*ad = append(*ad, name...)
		var dst []byte
		if matches == 1 && len(env) > sealing.Header {
			dst = env[sealing.Header:sealing.Header] // a failed Open may clobber it: one try only
		}
		if plain, _, err := s.ring.Open(dst, env, *ad); err == nil {
			return plain, true
		}
	}
	return nil, false
}

func contains(keys []string, k string) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

// Load implements Store: the inner record with its values opened.
func (s *store) Load(ctx context.Context, key string) (*storekit.Record, error) {
	r, err := s.inner.Load(ctx, key)
	if err != nil {
		return nil, err
	}
	s.openAll(ctx, key, r)
	return r, nil
}

// Create implements Store: r's values are sealed for key.
func (s *store) Create(ctx context.Context, key string, r *storekit.Record) error {
	c := &storekit.Record{Meta: r.Meta, Values: s.sealAll(key, r.Values)}
	return s.inner.Create(ctx, key, c)
}

// Update implements Store: the values d sets are sealed for key.
func (s *store) Update(ctx context.Context, key string, d *storekit.Delta) error {
	c := *d
	c.Set = s.sealAll(key, d.Set)
	return s.inner.Update(ctx, key, &c)
}

// Delete implements Store.
func (s *store) Delete(ctx context.Context, key string) error {
	return s.inner.Delete(ctx, key)
}

// Rotate implements Rotator: the values the renewal sets are sealed for
// the new key, and the renewal is recorded so the values it carries over
// (sealed for the old key) still open under the new one.
func (s *rotator) Rotate(ctx context.Context, rot *storekit.Rotation) ([]storekit.IndexedRecord, error) {
	c := *rot
	c.Delta.Set = s.sealAll(rot.NewKey, rot.Delta.Set)
	if rot.OldKey != "" && !rot.Delta.Clear {
		if c.Delta.Set == nil {
			c.Delta.Set = make(map[string][]byte, 1)
		}
		name := renewalPrefix + rot.OldKey + "\x00" + rot.NewKey
		c.Delta.Set[name] = s.ring.Seal(nil, nil, sealing.AD(valuePurpose, name))
	}
	return s.rot.Rotate(ctx, &c)
}

// Family implements Rotator: the family's live record, its values opened.
func (s *rotator) Family(ctx context.Context, family string) (string, *storekit.Record, error) {
	key, r, err := s.rot.Family(ctx, family)
	if err != nil {
		return "", nil, err
	}
	s.openAll(ctx, key, r)
	return key, r, nil
}

// EndFamily implements Rotator.
func (s *rotator) EndFamily(ctx context.Context, family string) (*storekit.IndexedRecord, error) {
	return s.rot.EndFamily(ctx, family)
}
