package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMetricsEndpoint runs the program's handler, logs in, sends a bogus
// cookie, logs out, then scrapes /metrics and finds the counters, the
// store histogram and the live gauge in the Prometheus text format, with
// no user, token or IP in any label.
func TestMetricsEndpoint(t *testing.T) {
	h, closeAll, err := newHandler()
	require.NoError(t, err)
	t.Cleanup(closeAll)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar}
	do := func(c *http.Client, method, path, cookie string) string {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, nil)
		require.NoError(t, err)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := c.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s %s: %s", method, path, body)
		return string(body)
	}
	do(browser, "POST", "/login", "") // and the redirect: GET /
	assert.Contains(t, do(browser, "GET", "/", ""), "Hello, demo")
	do(http.DefaultClient, "GET", "/", "sid=forged")
	do(browser, "POST", "/logout", "")

	text := do(http.DefaultClient, "GET", "/metrics", "")
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(text))
	require.NoError(t, err, text)

	events := families["session_events_total"]
	require.NotNil(t, events, "session_events_total missing:\n%s", text)
	assert.Equal(t, dto.MetricType_COUNTER, events.GetType())
	count := func(labels ...string) float64 {
		for _, m := range events.GetMetric() {
			if hasLabels(m, labels...) {
				return m.GetCounter().GetValue()
			}
		}
		return 0
	}
	assert.Equal(t, 1.0, count("session_event_kind", "session.login"))
	assert.Equal(t, 1.0, count("session_event_kind", "session.rejected", "session_event_reason", "malformed"))
	assert.Equal(t, 1.0, count("session_event_kind", "session.destroyed"))

	hist := families["session_store_duration_seconds"]
	require.NotNil(t, hist, "session_store_duration_seconds missing:\n%s", text)
	assert.Equal(t, dto.MetricType_HISTOGRAM, hist.GetType())
	ops := map[string]uint64{}
	for _, m := range hist.GetMetric() {
		ops[label(m, "session_store_operation")+"/"+label(m, "session_store_outcome")] += m.GetHistogram().GetSampleCount()
	}
	for _, op := range []string{"load/ok", "rotate/ok", "end_family/ok"} { // a logout ends its family
		assert.Positive(t, ops[op], "%s in %v", op, ops)
	}

	live := families["session_live"]
	require.NotNil(t, live, "session_live missing:\n%s", text)
	assert.Equal(t, dto.MetricType_GAUGE, live.GetType())

	for name, f := range families {
		if !strings.HasPrefix(name, "session_") {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				for _, bad := range []string{"demo", "forged", "127.0.0.1", "Go-http-client"} {
					assert.NotContains(t, l.GetValue(), bad, "%s label %s", name, l.GetName())
				}
			}
		}
	}
}

// hasLabels reports whether m has every name/value pair in kv.
func hasLabels(m *dto.Metric, kv ...string) bool {
	for i := 0; i < len(kv); i += 2 {
		if label(m, kv[i]) != kv[i+1] {
			return false
		}
	}
	return true
}

// label returns the value of m's label name, or "".
func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
