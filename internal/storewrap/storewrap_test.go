package storewrap

import (
	"context"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/storekit"
)

// full implements every interface; its parts are used as the wrapper's.
type full struct{}

func (full) Load(context.Context, string) (*storekit.Record, error)                 { return nil, nil }
func (full) Create(context.Context, string, *storekit.Record) error                 { return nil }
func (full) Update(context.Context, string, *storekit.Delta) error                  { return nil }
func (full) Delete(context.Context, string) error                                   { return nil }
func (full) UserSessions(context.Context, string) ([]storekit.IndexedRecord, error) { return nil, nil }
func (full) RevokeUser(context.Context, string) error                               { return nil }
func (full) RevokeAll(context.Context, time.Time) error                             { return nil }
func (full) Count(context.Context) (int, error)                                     { return 0, nil }
func (full) Rotate(context.Context, *storekit.Rotation) ([]storekit.IndexedRecord, error) {
	return nil, nil
}
func (full) Family(context.Context, string) (string, *storekit.Record, error) { return "", nil, nil }
func (full) EndFamily(context.Context, string) (*storekit.IndexedRecord, error) {
	return nil, nil
}
func (full) Refresh(context.Context, string, string, time.Time) (*storekit.Meta, error) {
	return nil, nil
}
func (full) CreateEnding(context.Context, string, *storekit.Record) error { return nil }
func (full) NotifyExpired(func(context.Context, storekit.IndexedRecord))  {}

// has reports, in the order of Names, which interfaces v implements.
func has(v any) [6]bool {
	_, a := v.(UserIndex)
	_, b := v.(Fleet)
	_, c := v.(Rotator)
	_, d := v.(Refresher)
	_, e := v.(EndingCreator)
	_, f := v.(ExpiryNotifier)
	return [6]bool{a, b, c, d, e, f}
}

// TestWrapExposesExactlyThePartsGiven tries every combination of parts
// over an inner store that has them all, and over one that has none. An
// ExpiryNotifier is forwarded from the inner store even when not given:
// its notifications carry no values a wrapper would change.
func TestWrapExposesExactlyThePartsGiven(t *testing.T) {
	if len(Names) != 6 {
		t.Fatalf("Names has %d interfaces; update has, this test and gen.go", len(Names))
	}
	f := full{}
	for m := range 1 << len(Names) {
		p := Parts[Store]{Inner: f, Store: f}
		bit := func(i int) bool { return m&(1<<i) != 0 }
		if bit(0) {
			p.UserIndex = f
		}
		if bit(1) {
			p.Fleet = f
		}
		if bit(2) {
			p.Rotator = f
		}
		if bit(3) {
			p.Refresher = f
		}
		if bit(4) {
			p.EndingCreator = f
		}
		if bit(5) {
			p.ExpiryNotifier = f
		}
		got := has(Wrap(p))
		for i := range Names {
			if want := bit(i) || Names[i] == "ExpiryNotifier"; got[i] != want {
				t.Errorf("parts %06b: wrapper has %s = %v", m, Names[i], got[i])
			}
		}
		bare := struct{ Store }{f}
		p.Inner = bare
		if got := has(Wrap(p)); got != [6]bool{} {
			t.Errorf("parts %06b over a bare store: the wrapper gained %v", m, got)
		}
		if u, ok := any(Wrap(p)).(interface{ Unwrap() Store }); !ok || u.Unwrap() != Store(bare) {
			t.Errorf("parts %06b: Unwrap does not return the inner store", m)
		}
	}
}
