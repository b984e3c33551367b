package otelsession

import (
	"context"
	"slices"

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
	in.events.Add(ctx, 1, in.eventOpts[eventAttrs(e.Kind, e.Reason)]...)
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

// eventKey is the attribute values of one session.events series: a kind
// and a reason ("" for none).
type eventKey struct{ kind, reason string }

// eventReasons lists every event kind of the session package with the
// reasons that become session.event.reason; nil for the kinds that carry
// none: those whose Reason is absent or holds client text (the Origin of a
// cross-origin request, the previous IP of a binding change).
var eventReasons = map[string][]string{
	session.EventCreated:   nil,
	session.EventLogin:     {"issue"},
	session.EventRenewed:   {"reauthenticate", "remember", "cookie_name", "refresh", "refresh_retry"},
	session.EventDestroyed: nil,
	// "expired": a session the store dropped with nobody coming back
	// (session.ExpiryNotifier); none when an expired cookie came back.
	session.EventExpiredIdle:     {"expired"},
	session.EventExpiredAbsolute: {"expired"},
	session.EventRejected: {"unknown", "malformed", "bad_signature", "rotated", "gone_at_commit",
		"renewed_at_commit", "unsealable", "corrupt", session.EndExpired, session.EndDestroyed, session.EndRevoked},
	session.EventRevoked:        {"revoke", "revoke_user", "revoke_others", "revoke_all"},
	session.EventEvicted:        {"max_sessions"},
	session.EventLoginRefused:   {"max_sessions"},
	session.EventCSRFFailure:    {"missing", "malformed", "mismatch", "too_large"},
	session.EventCrossOrigin:    nil,
	session.EventBindingChanged: nil,
	session.EventBruteForce:     nil,
	session.EventRefreshReused:  {"ended", "already_ended"},
	// An import's Reason names the legacy keys it dropped: not a label.
	session.EventImported:     nil,
	session.EventImportFailed: {"importer_error", "importer_panic", "login_failed"},
	// The Reason names the likely cause: one fixed text.
	session.EventUncommitted: nil,
	// The Manager's name of the failed step.
	session.EventStoreError: storeSteps,
	session.EventCapacity:   storeSteps,
}

// storeSteps are the Reasons of EventStoreError and EventCapacity.
var storeSteps = []string{"load", "create", "update", "renew", "destroy", "delete expired",
	"delete on binding change", "touch", "revoke", "revoke user", "list user sessions",
	"save", "final_commit", "revoke all", "count", "load revocations",
	"check", "end", "end reused", "issue", "rotate", "refresh"}

// eventAttrs maps an event's kind and reason to the attribute values
// recorded: a kind the session package does not define is "other" (with
// no reason); a reason is kept only for the kinds that list reasons, and
// one not listed is "other".
func eventAttrs(kind, reason string) eventKey {
	reasons, ok := eventReasons[kind]
	switch {
	case !ok:
		return eventKey{kind: other}
	case reasons == nil || reason == "":
		return eventKey{kind: kind}
	case slices.Contains(reasons, reason):
		return eventKey{kind, reason}
	}
	return eventKey{kind, other}
}

// eventOptions precomputes the attribute option of every series of
// session.events, so counting an event allocates nothing.
func eventOptions() map[eventKey][]metric.AddOption {
	opts := map[eventKey][]metric.AddOption{}
	add := func(k eventKey) {
		kv := []attribute.KeyValue{attrKind.String(k.kind)}
		if k.reason != "" {
			kv = append(kv, attrReason.String(k.reason))
		}
		opts[k] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
	}
	add(eventKey{kind: other})
	for kind, reasons := range eventReasons {
		add(eventKey{kind: kind})
		if reasons != nil {
			add(eventKey{kind, other})
		}
		for _, r := range reasons {
			add(eventKey{kind, r})
		}
	}
	return opts
}
