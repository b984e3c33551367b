package otelsession_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/otelsession"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// newInstruments returns instruments on a fresh SDK MeterProvider read by
// a ManualReader (collect reads it).
func newInstruments(t testing.TB, opts ...otelsession.Option) (*otelsession.Instruments, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	in, err := otelsession.New(mp, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = in.Close() })
	return in, reader
}

// collect reads every metric of the otelsession scope.
func collect(t *testing.T, reader *sdkmetric.ManualReader) []metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	return scopeMetrics(t, rm)
}

// scopeMetrics returns the metrics of the otelsession scope in rm.
func scopeMetrics(t *testing.T, rm metricdata.ResourceMetrics) []metricdata.Metrics {
	t.Helper()
	var out []metricdata.Metrics
	for _, sm := range rm.ScopeMetrics {
		require.Equal(t, otelsession.ScopeName, sm.Scope.Name)
		out = append(out, sm.Metrics...)
	}
	return out
}

// find returns the metric named name, or fails.
func find(t *testing.T, ms []metricdata.Metrics, name string) metricdata.Metrics {
	t.Helper()
	for _, m := range ms {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("metric %s not collected", name)
	return metricdata.Metrics{}
}

// eventCounts returns session.events as "kind" or "kind/reason" -> count.
func eventCounts(t *testing.T, ms []metricdata.Metrics) map[string]int64 {
	t.Helper()
	sum, ok := find(t, ms, "session.events").Data.(metricdata.Sum[int64])
	require.True(t, ok, "session.events is an int64 sum")
	require.True(t, sum.IsMonotonic, "session.events is a counter")
	out := map[string]int64{}
	for _, dp := range sum.DataPoints {
		k := attr(dp.Attributes, "session.event.kind")
		if r := attr(dp.Attributes, "session.event.reason"); r != "" {
			k += "/" + r
		}
		out[k] += dp.Value
	}
	return out
}

// storeCounts returns session.store.duration as "op/outcome" -> number of
// measurements, checking each point's sum is a plausible duration.
func storeCounts(t *testing.T, ms []metricdata.Metrics) map[string]uint64 {
	t.Helper()
	m := find(t, ms, "session.store.duration")
	require.Equal(t, "s", m.Unit)
	h, ok := m.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "session.store.duration is a float64 histogram")
	out := map[string]uint64{}
	for _, dp := range h.DataPoints {
		require.GreaterOrEqual(t, dp.Sum, 0.0)
		require.Less(t, dp.Sum, float64(dp.Count)*5, "a store call of the memory store takes far less than 5s")
		require.Equal(t, 0.00005, dp.Bounds[0], "buckets start at 50µs")
		out[attr(dp.Attributes, "session.store.operation")+"/"+attr(dp.Attributes, "session.store.outcome")] += dp.Count
	}
	return out
}

// attr returns the value of key in set, or "".
func attr(set attribute.Set, key string) string {
	v, _ := set.Value(attribute.Key(key))
	return v.AsString()
}

// allAttributes returns every attribute of every data point in ms.
func allAttributes(ms []metricdata.Metrics) []attribute.KeyValue {
	var out []attribute.KeyValue
	add := func(s attribute.Set) { out = append(out, s.ToSlice()...) }
	for _, m := range ms {
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			for _, dp := range d.DataPoints {
				add(dp.Attributes)
			}
		case metricdata.Histogram[float64]:
			for _, dp := range d.DataPoints {
				add(dp.Attributes)
			}
		case metricdata.Gauge[int64]:
			for _, dp := range d.DataPoints {
				add(dp.Attributes)
			}
		default:
			panic("unexpected metric data type")
		}
	}
	return out
}

// newManager returns a Manager on st with in wired into both seams, and
// next (if not nil) chained after the counter.
func newManager(t testing.TB, st session.Store, in *otelsession.Instruments, next func(context.Context, session.Event)) *session.Manager {
	t.Helper()
	cfg := session.Config{
		Cookie: session.CookieConfig{AllowInsecure: true}, // httptest is plain HTTP: cookie "sid"
		Logger: slog.New(slog.DiscardHandler),
	}
	if in != nil {
		cfg.Store = otelsession.WrapStore(st, in)
		cfg.OnEvent = in.Chain(next)
	} else {
		cfg.Store = st
	}
	m, err := session.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// testApp is a tiny application: GET / reads, POST /set writes, POST /login
// logs "alice" in, POST /logout destroys the session.
func testApp() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello "+session.FromContext(r.Context()).GetString("name"))
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Set("name", "x"); err != nil {
			http.Error(w, "error", http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Login(r.Context(), "alice"); err != nil {
			http.Error(w, "error", http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Destroy(r.Context()); err != nil {
			http.Error(w, "error", http.StatusInternalServerError)
		}
	})
	return mux
}

// client is a browser stand-in with a cookie jar.
type client struct {
	t   *testing.T
	srv *httptest.Server
	c   *http.Client
}

func newClient(t *testing.T, srv *httptest.Server) *client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &client{t: t, srv: srv, c: &http.Client{Jar: jar}}
}

// do sends method path with cookie (when not "") and checks the status.
func (c *client) do(method, path, cookie string, want int) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.srv.URL+path, nil)
	require.NoError(c.t, err)
	req.Header.Set("User-Agent", "otelsession-test-agent/1.0")
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := c.c.Do(req)
	require.NoError(c.t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	require.Equal(c.t, want, resp.StatusCode, "%s %s", method, path)
}

// cookie returns the jar's "sid" cookie as a Cookie header, or "".
func (c *client) cookie() string {
	u, err := url.Parse(c.srv.URL)
	require.NoError(c.t, err)
	for _, ck := range c.c.Jar.Cookies(u) {
		if ck.Name == "sid" {
			return "sid=" + ck.Value
		}
	}
	return ""
}
