package storekit

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

func TestRotationFamily(t *testing.T) {
	rot := &Rotation{NewKey: "new"}
	if got := rot.Family(); got != "new" {
		t.Fatalf("a new family is the new key: got %q", got)
	}
	rot.Meta.Family = "fam"
	if got := rot.Family(); got != "fam" {
		t.Fatalf("an existing family is kept: got %q", got)
	}
}

func TestRotationCheckOld(t *testing.T) {
	alice := &Record{Meta: Meta{UserID: "alice", Generation: 3}}
	anon := &Record{}
	for _, c := range []struct {
		name     string
		oldKey   string
		old      *Record
		cur      uint64
		wantErr  bool
		wantText string
	}{
		{name: "no old key", oldKey: "", old: nil},
		{name: "old record gone", oldKey: "k", old: nil, wantErr: true},
		{name: "current generation", oldKey: "k", old: alice, cur: 3},
		{name: "revoked", oldKey: "k", old: alice, cur: 4, wantErr: true, wantText: "revoked: "},
		{name: "anonymous ignores generations", oldKey: "k", old: anon, cur: 9},
	} {
		rot := &Rotation{OldKey: c.oldKey, NewKey: "n"}
		err := rot.CheckOld(c.old, c.cur)
		if (err != nil) != c.wantErr {
			t.Fatalf("%s: err = %v, want error %v", c.name, err, c.wantErr)
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: %v does not match ErrNotFound", c.name, err)
		}
		if c.wantText != "" && err.Error()[:len(c.wantText)] != c.wantText {
			t.Fatalf("%s: %q does not say %q", c.name, err, c.wantText)
		}
	}
}

func TestRotationRenewedGeneration(t *testing.T) {
	old := &Record{Meta: Meta{UserID: "alice", Generation: 2}, Values: map[string][]byte{"a": []byte("1")}}
	for _, c := range []struct {
		name   string
		rot    Rotation
		old    *Record
		want   uint64
		values int
	}{
		{name: "same user keeps the old generation", rot: Rotation{OldKey: "k", Meta: Meta{UserID: "alice"}}, old: old, want: 2, values: 1},
		{name: "own revocation takes the user's", rot: Rotation{OldKey: "k", Meta: Meta{UserID: "alice"}, RevokeUser: true}, old: old, want: 7, values: 1},
		{name: "another user takes the user's", rot: Rotation{OldKey: "k", Meta: Meta{UserID: "bob"}}, old: old, want: 7, values: 1},
		{name: "no old record takes the user's", rot: Rotation{Meta: Meta{UserID: "bob"}}, want: 7},
		{name: "anonymous has none", rot: Rotation{OldKey: "k"}, old: old, want: 0, values: 1},
	} {
		r := c.rot.Renewed(c.old, 7)
		if r.Generation != c.want {
			t.Fatalf("%s: generation %d, want %d", c.name, r.Generation, c.want)
		}
		if len(r.Values) != c.values {
			t.Fatalf("%s: %d values, want %d", c.name, len(r.Values), c.values)
		}
	}
	if old.Generation != 2 || len(old.Values) != 1 {
		t.Fatal("Renewed modified the old record")
	}
}

func TestRotationTombstone(t *testing.T) {
	rot := &Rotation{OldKey: "old", NewKey: "new", Meta: Meta{LastSeen: t0, Family: "fam"}}
	if _, _, ok := rot.Tombstone(&Record{}); ok {
		t.Fatal("a record without Linger leaves a tombstone")
	}
	if _, _, ok := rot.Tombstone(nil); ok {
		t.Fatal("no old record leaves a tombstone")
	}
	ts, until, ok := rot.Tombstone(&Record{Meta: Meta{Linger: time.Minute}})
	if !ok {
		t.Fatal("a lingering record leaves no tombstone")
	}
	want := Tombstone{Reason: EndRotated, At: t0, Next: "new", Family: "fam"}
	if *ts != want {
		t.Fatalf("tombstone %+v, want %+v", *ts, want)
	}
	if !until.Equal(t0.Add(time.Minute)) {
		t.Fatalf("kept until %v, want the old Linger past LastSeen", until)
	}
	if !errors.Is(ts, ErrNotFound) {
		t.Fatal("the tombstone does not match ErrNotFound")
	}
}

func TestRotationVictims(t *testing.T) {
	live := []IndexedRecord{
		{Key: "a", Meta: Meta{LastSeen: t0.Add(3 * time.Second)}},
		{Key: "old", Meta: Meta{LastSeen: t0}},
		{Key: "b", Meta: Meta{LastSeen: t0.Add(time.Second)}},
		{Key: "c", Meta: Meta{LastSeen: t0.Add(2 * time.Second)}},
	}
	rot := &Rotation{OldKey: "old", MaxSessions: 2}
	v, err := rot.Victims(append([]IndexedRecord(nil), live...))
	if err != nil || len(v) != 2 || v[0].Key != "b" || v[1].Key != "c" {
		t.Fatalf("victims %v, %v: want the two least recently seen other than the old key", v, err)
	}
	rot.RefuseNew = true
	if _, err := rot.Victims(append([]IndexedRecord(nil), live...)); !errors.Is(err, ErrTooManySessions) {
		t.Fatalf("RefuseNew at the cap: %v", err)
	}
	rot.MaxSessions = 0
	if v, err := rot.Victims(live); v != nil || err != nil {
		t.Fatalf("no cap: %v, %v", v, err)
	}
}
