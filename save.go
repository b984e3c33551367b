package session

import (
	"context"
	"fmt"
)

// Save sends this request's pending changes to the store now and returns
// the store's error, instead of leaving them to the middleware. It is for
// handlers that stream (Server-Sent Events, long responses, WebSockets) and
// need to know that a change made after the response headers went out was
// kept: once the headers are gone, the middleware can no longer answer with
// an error, so it only logs and emits EventStoreError (Reason
// "final_commit") when the save at the end of the handler fails.
//
// Before the headers go out, Save stores the changes too (a new session is
// created then; its cookie still goes out with the headers), and a later
// failure at the header commit still becomes the error handler's response.
//
// The errors a handler can see:
//   - before the headers are sent, as after: an error wrapping ErrStore (the
//     store failed; nothing was saved and the changes stay pending, so the
//     end-of-handler save tries again), or the load error (see Err);
//   - an error wrapping ErrNotFound when the session was destroyed or
//     revoked by another request meanwhile: the changes are dropped and the
//     request continues as anonymous; after the headers, it also wraps
//     ErrHeadersSent, since the browser's cookie can no longer be expired;
//   - from Set, Login, Renew, Destroy, SetPersist and SetTimeouts after the
//     headers: ErrHeadersSent for any change that needs a new Set-Cookie (a
//     new session, a new ID, logout). Changes to values of a stored session
//     do not need one and are saved by Save or when the handler returns.
func (s *Session) Save(ctx context.Context) error {
	s.mu.Lock()
	stored := s.key != ""
	s.unlock()
	if err := s.commitCtx(ctx, nil, false, "save"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.unlock()
	if stored && s.key == "" {
		if s.headersSent {
			return fmt.Errorf("session: save: session ended meanwhile: %w; its cookie can no longer be expired: %w", ErrNotFound, ErrHeadersSent)
		}
		return fmt.Errorf("session: save: session ended meanwhile: %w", ErrNotFound)
	}
	return nil
}
