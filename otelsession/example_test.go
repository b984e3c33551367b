package otelsession_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/otelsession"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Wire the instruments into both seams of a Manager: the store wrapper
// times every store call, OnEvent counts the security events, and the
// memory store's Len feeds the live-sessions gauge. A real program passes
// its MeterProvider (an OTLP or Prometheus exporter); here a ManualReader
// shows what was recorded after a request with a forged cookie.
func Example() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	store := session.NewMemoryStore()
	defer store.Close()
	in, err := otelsession.New(mp, otelsession.WithLiveSessions(func(ctx context.Context) (int64, error) {
		n, err := store.Count(ctx)
		return int64(n), err
	}))
	if err != nil {
		panic(err)
	}
	defer in.Close()
	m, err := session.New(session.Config{
		Store:   otelsession.WrapStore(store, in),
		OnEvent: in.OnEvent, // or in.Chain(yourHook)
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	defer m.Close()

	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).GetString("name") // loads the session
	}))
	req := httptest.NewRequest("GET", "https://example.com/", nil)
	req.Header.Set("Cookie", "__Host-Http-sid=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	h.ServeHTTP(httptest.NewRecorder(), req)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		panic(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			switch d := mt.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					kind, _ := dp.Attributes.Value("session.event.kind")
					reason, _ := dp.Attributes.Value("session.event.reason")
					fmt.Printf("%s %s/%s: %d\n", mt.Name, kind.AsString(), reason.AsString(), dp.Value)
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					op, _ := dp.Attributes.Value("session.store.operation")
					outcome, _ := dp.Attributes.Value("session.store.outcome")
					fmt.Printf("%s %s/%s: %d call(s)\n", mt.Name, op.AsString(), outcome.AsString(), dp.Count)
				}
			case metricdata.Gauge[int64]:
				fmt.Printf("%s: %d\n", mt.Name, d.DataPoints[0].Value)
			}
		}
	}
	// Unordered output:
	// session.events session.rejected/unknown: 1
	// session.store.duration load/not_found: 1 call(s)
	// session.live: 0
}
