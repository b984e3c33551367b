// Package otelsession measures a [session.Manager] with OpenTelemetry
// metrics: a counter of security events per kind, a histogram of store
// latency per operation, and, where the store can tell, a gauge of live
// sessions.
//
// It plugs into the library's two seams and changes nothing else:
//
//	in, err := otelsession.New(meterProvider, otelsession.WithLiveSessions(liveCount))
//	...
//	m, err := session.New(session.Config{
//		Store:   otelsession.WrapStore(store, in), // store latency
//		OnEvent: in.OnEvent,                       // event counts
//	})
//
// # Instruments
//
//   - session.events (counter, {event}): one per [session.Event], with the
//     attribute session.event.kind ([session.Event.Kind]) and, for the kinds
//     whose reason is one of a small fixed set (rejections, CSRF failures,
//     refused logins, evictions, revocations, store failures),
//     session.event.reason.
//   - session.store.duration (histogram, seconds): one per call of the
//     wrapped [session.Store], with session.store.operation (load, create,
//     update, delete, rotate, family, end_family, revoke_user,
//     user_sessions, revoke_all, count) and
//     session.store.outcome (ok, not_found, refused, canceled, error).
//   - session.live (gauge, {session}): observed at each collection from the
//     function given to [WithLiveSessions]; absent without it.
//
// # Cardinality and personal data
//
// Every attribute value comes from a fixed set known to this package: a
// value outside it is recorded as "other". No attribute ever carries a
// session hash, a user ID, an IP address, a User-Agent or any other text a
// client chose (such as the Origin of a refused cross-origin request): those
// would make the number of time series unbounded and put personal data in
// the metrics backend. Per-session detail belongs in logs ([session.Config]
// Logger), not in metrics.
package otelsession

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the instrumentation scope (meter name) of the instruments.
const ScopeName = "github.com/sessionkit/session/otelsession"

// storeBuckets are the bucket boundaries of session.store.duration, in
// seconds: from 50µs (an in-memory store) through a few milliseconds (a
// network round trip) to seconds (a struggling backend).
var storeBuckets = []float64{
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
	0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
}

// Instruments is a set of session metrics created by [New]. Its OnEvent
// method is a [session.Config] OnEvent hook, and [WrapStore] records store
// latency into it. It is safe for concurrent use.
type Instruments struct {
	events   metric.Int64Counter
	duration metric.Float64Histogram
	// storeOpts holds, per operation and outcome, the precomputed
	// attribute option of a duration measurement, so recording one
	// allocates nothing.
	storeOpts [numOps][numOutcomes][]metric.RecordOption
	// eventOpts holds the same for every series of session.events.
	eventOpts map[eventKey][]metric.AddOption
	reg       metric.Registration // the live-sessions callback, or nil
}

// Option configures [New].
type Option func(*options)

type options struct {
	live func(context.Context) (int64, error)
}

// WithLiveSessions adds the session.live gauge, observed by calling count
// at each collection. It should answer quickly from a counter the store
// keeps. An error skips that observation, the other instruments are still
// collected, and the reader returns the error (a periodic reader or the
// Prometheus exporter hands it to the OpenTelemetry error handler). For a
// [session.MemoryStore] (or any [session.Fleet]):
//
//	otelsession.WithLiveSessions(func(ctx context.Context) (int64, error) {
//		n, err := ms.Count(ctx)
//		return int64(n), err
//	})
//
// ([session.MemoryStore.Count] visits every record: O(n), once per
// collection, anonymous sessions included.)
func WithLiveSessions(count func(ctx context.Context) (int64, error)) Option {
	return func(o *options) { o.live = count }
}

// New creates the instruments on a meter named [ScopeName] from mp. Pass
// otel.GetMeterProvider() to use the global provider. Call Close when the
// instruments are no longer used, to release the live-sessions callback.
func New(mp metric.MeterProvider, opts ...Option) (*Instruments, error) {
	if mp == nil {
		return nil, errors.New("otelsession: nil MeterProvider")
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	meter := mp.Meter(ScopeName)
	in := &Instruments{eventOpts: eventOptions()}
	var err error
	in.events, err = meter.Int64Counter("session.events",
		metric.WithDescription("Security events emitted by the session manager, by kind."),
		metric.WithUnit("{event}"))
	if err != nil {
		return nil, fmt.Errorf("otelsession: session.events: %w", err)
	}
	in.duration, err = meter.Float64Histogram("session.store.duration",
		metric.WithDescription("Duration of session store calls, by operation and outcome."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(storeBuckets...))
	if err != nil {
		return nil, fmt.Errorf("otelsession: session.store.duration: %w", err)
	}
	for op := range numOps {
		for oc := range numOutcomes {
			set := attribute.NewSet(attrOperation.String(opNames[op]), attrOutcome.String(outcomeNames[oc]))
			in.storeOpts[op][oc] = []metric.RecordOption{metric.WithAttributeSet(set)}
		}
	}
	if o.live != nil {
		if err := in.registerLive(meter, o.live); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// registerLive creates the session.live gauge fed by count.
func (in *Instruments) registerLive(meter metric.Meter, count func(context.Context) (int64, error)) error {
	gauge, err := meter.Int64ObservableGauge("session.live",
		metric.WithDescription("Live sessions in the store, as far as the store can tell."),
		metric.WithUnit("{session}"))
	if err != nil {
		return fmt.Errorf("otelsession: session.live: %w", err)
	}
	in.reg, err = meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		n, err := count(ctx)
		if err != nil {
			return fmt.Errorf("otelsession: counting live sessions: %w", err)
		}
		o.ObserveInt64(gauge, n)
		return nil
	}, gauge)
	if err != nil {
		return fmt.Errorf("otelsession: session.live callback: %w", err)
	}
	return nil
}

// Close stops observing the session.live gauge. The counter and histogram
// keep working; Close is safe to call more than once.
func (in *Instruments) Close() error {
	if in.reg == nil {
		return nil
	}
	return in.reg.Unregister()
}
