package dbsc

import (
	"context"
	"errors"

	"github.com/sessionkit/session"
)

// Device is one of a user's sessions as [session.Manager.Sessions] lists
// it, and whether a browser key binds it.
type Device struct {
	session.SessionInfo
	// Bound is true for a session bound to a device key by DBSC: a copy
	// of its cookies is refused on another device once the bound cookie
	// expires.
	Bound bool
}

// Sessions lists the user's live sessions as [session.Manager.Sessions]
// does (most recently active first, the caller's own marked Current), each
// with whether it is bound. It reads each session's record from the
// Manager's store (one Load per session), so it needs a store implementing
// [session.UserIndex]; errors wrap [session.ErrNoIndex], [session.ErrNoUser]
// or [session.ErrStore] as Sessions' do.
func (b *Binder) Sessions(ctx context.Context, userID string) ([]Device, error) {
	infos, err := b.m.Sessions(ctx, userID)
	if err != nil {
		return nil, err
	}
	st := b.m.Store()
	out := make([]Device, 0, len(infos))
	for _, info := range infos {
		rec, err := st.Load(ctx, info.Handle)
		if errors.Is(err, session.ErrNotFound) {
			continue // ended since it was listed
		}
		if err != nil {
			return nil, err
		}
		_, bound := rec.Values[valueKey]
		out = append(out, Device{SessionInfo: info, Bound: bound})
	}
	return out, nil
}
