package otelsession

import (
	"context"

	"github.com/sessionkit/session"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Attribute keys.
const (
	attrKind      = attribute.Key("session.event.kind")
	attrReason    = attribute.Key("session.event.reason")
	attrOperation = attribute.Key("session.store.operation")
	attrOutcome   = attribute.Key("session.store.outcome")
)

// other stands for any attribute value outside the fixed sets.
const other = "other"

// OnEvent counts e in session.events. Its signature is that of
// [session.Config] OnEvent:
//
//	session.Config{OnEvent: in.OnEvent}
//
// Only e.Kind, and e.Reason when it is one of the known bounded reasons of
// that kind, become attributes (see the package documentation); the
// session hash, user, IP and User-Agent are never recorded. To keep an
// existing hook as well, use [Instruments.Chain].
func (in *Instruments) OnEvent(ctx context.Context, e session.Event) {
	kind := eventKind(e.Kind)
	if reason, ok := eventReason(kind, e.Reason); ok {
		in.events.Add(ctx, 1, metric.WithAttributes(attrKind.String(kind), attrReason.String(reason)))
		return
	}
	in.events.Add(ctx, 1, metric.WithAttributes(attrKind.String(kind)))
}

// Chain returns an OnEvent hook that counts each event, then calls next
// (when not nil): for an application that already has a hook, such as an
// audit trail.
//
//	session.Config{OnEvent: in.Chain(auditHook)}
func (in *Instruments) Chain(next func(context.Context, session.Event)) func(context.Context, session.Event) {
	if next == nil {
		return in.OnEvent
	}
	return func(ctx context.Context, e session.Event) {
		in.OnEvent(ctx, e)
		next(ctx, e)
	}
}

// eventKind returns kind when it is an event kind of the session package,
// and "other" otherwise.
func eventKind(kind string) string {
	switch kind {
	case session.EventCreated, session.EventLogin, session.EventRenewed, session.EventDestroyed,
		session.EventExpiredIdle, session.EventExpiredAbsolute, session.EventRejected,
		session.EventRevoked, session.EventEvicted, session.EventLoginRefused,
		session.EventCSRFFailure, session.EventCrossOrigin, session.EventBindingChanged,
		session.EventBruteForce, session.EventStoreError, session.EventCapacity:
		return kind
	}
	return other
}

// eventReason returns the session.event.reason attribute of an event of
// the given kind, and false for the kinds that carry none: those whose
// Reason is absent or holds client text (the Origin of a cross-origin
// request, the previous IP of a binding change). A reason this package does
// not know is "other".
func eventReason(kind, reason string) (string, bool) {
	if reason == "" {
		return "", false
	}
	var known bool
	switch kind {
	case session.EventRejected:
		switch reason {
		case "unknown", "malformed", "bad_signature", "rotated", "gone_at_commit",
			session.EndExpired, session.EndDestroyed, session.EndRevoked:
			known = true
		}
	case session.EventCSRFFailure:
		switch reason {
		case "missing", "malformed", "mismatch", "too_large":
			known = true
		}
	case session.EventLoginRefused, session.EventEvicted:
		known = reason == "max_sessions"
	case session.EventRevoked:
		switch reason {
		case "revoke", "revoke_user", "revoke_others":
			known = true
		}
	case session.EventStoreError, session.EventCapacity:
		// The Manager's name of the failed step.
		switch reason {
		case "load", "create", "update", "renew", "destroy", "delete expired",
			"delete on binding change", "touch", "revoke", "revoke user",
			"list user sessions", "save", "final_commit":
			known = true
		}
	default:
		return "", false
	}
	if !known {
		return other, true
	}
	return reason, true
}
