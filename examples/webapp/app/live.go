package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sessionkit/session"
)

// liveCheckEvery is how often the live stream checks that its session is
// still live (one store round trip per check).
const liveCheckEvery = 2 * time.Second

// live is a Server-Sent Events stream that stays open while the session
// lives: Session.Watch cancels its context when the session is logged out,
// revoked or expires anywhere, and the stream then tells the page, which
// reloads (static/live.js). A comment line every 15 s keeps proxies from
// closing an idle stream.
func (a *App) live(w http.ResponseWriter, r *http.Request) {
	s := session.FromContext(r.Context())
	ctx, cancel := s.Watch(r.Context(), liveCheckEvery)
	defer cancel()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	send := func(event, data string) bool {
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send("live", "connected") {
		return
	}
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), session.ErrNotFound) {
				send("ended", "this session ended")
			}
			return
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}
