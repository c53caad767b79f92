package engine

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pilb-proxy/pilb/pool"
)

// scrapeEngine serves s's collector over HTTP, as cmd/pilb does, and
// returns a function that scrapes it and parses the text format with the
// Prometheus parser.
func scrapeEngine(t *testing.T, s *Server) func() map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s.Collector())
	hs := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	t.Cleanup(hs.Close)
	return func() map[string]*dto.MetricFamily {
		t.Helper()
		return scrapeURL(t, hs.URL)
	}
}

// scrapeURL GETs a Prometheus text exposition and parses it.
func scrapeURL(t testing.TB, url string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("scrape: status %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape does not parse: %v", err)
	}
	return mfs
}

// metricValue sums the values of the series of family name whose labels
// include want (name=value pairs); for a histogram, its sample count.
func metricValue(mfs map[string]*dto.MetricFamily, name string, want ...string) float64 {
	mf := mfs[name]
	if mf == nil {
		return -1
	}
	sum := 0.0
next:
	for _, m := range mf.GetMetric() {
		for i := 0; i+1 < len(want); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == want[i] && lp.GetValue() == want[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// TestMetricsScrape drives requests of every kind through the proxy and
// reads them back from a scrape parsed by the Prometheus text parser.
func TestMetricsScrape(t *testing.T) {
	s, demos := proxyToDemo(t, 2, Config{Loops: 2, ConnsPerBackend: 1, Operations: Operations{Metrics: true}})
	scrape := scrapeEngine(t, s)
	client := &http.Client{Timeout: 5 * time.Second}
	for range 6 {
		if resp, _ := get(t, client, "http://"+s.Addr()+"/"); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if resp, _ := get(t, client, "http://"+s.Addr()+"/status/503"); resp.StatusCode != 503 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// A malformed head: refused before routing.
	c := dialRaw(t, s.Addr())
	expectStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n"), 400)

	// No backend available: PILB answers 503 itself.
	set := s.cfg.Routes.Load().Backends()
	for _, b := range set {
		b.SetHealthy(false)
	}
	if resp, _ := get(t, client, "http://"+s.Addr()+"/"); resp.StatusCode != 503 {
		t.Fatalf("status %d", resp.StatusCode)
	}

	var mfs map[string]*dto.MetricFamily
	if !eventually(5*time.Second, func() bool {
		mfs = scrape()
		return metricValue(mfs, "pilb_requests_total") == 9
	}) {
		t.Fatalf("pilb_requests_total %v, want 9", metricValue(mfs, "pilb_requests_total"))
	}
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"pilb_requests_total", []string{"pool", "default", "code", "2xx"}, 6},
		{"pilb_requests_total", []string{"pool", "default", "backend", "s1", "code", "2xx"}, 3},
		{"pilb_requests_total", []string{"pool", "default", "backend", "s2", "code", "2xx"}, 3},
		{"pilb_requests_total", []string{"pool", "default", "code", "5xx"}, 2},
		{"pilb_requests_total", []string{"pool", "default", "backend", "none", "code", "5xx"}, 1},
		{"pilb_requests_total", []string{"pool", "none", "backend", "none", "code", "4xx"}, 1},
		{"pilb_parse_rejections_total", []string{"reason", "bad_header"}, 1},
		{"pilb_parse_rejections_total", nil, 1},
		{"pilb_request_duration_seconds", []string{"pool", "default"}, 8},
		{"pilb_retries_total", nil, 0},
		{"pilb_backend_state", []string{"state", "down"}, 2},
		{"pilb_backend_state", []string{"state", "up"}, 0},
		{"pilb_backend_full", nil, 0},
		{"pilb_requests_in_flight", nil, 0},
		{"pilb_recovered_panics_total", nil, 0},
		{"pilb_backend_ejections_total", nil, 0},
	}
	for _, c := range checks {
		if got := metricValue(mfs, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, name := range []string{"pilb_client_received_bytes_total", "pilb_client_sent_bytes_total", "pilb_client_connections_limit"} {
		if got := metricValue(mfs, name); got <= 0 {
			t.Errorf("%s = %v, want > 0", name, got)
		}
	}
	// Pre-dialed connections sit idle in the pools, one per loop and backend
	// once both loops run.
	if got := metricValue(mfs, "pilb_backend_idle_connections"); got < 1 {
		t.Errorf("pilb_backend_idle_connections = %v", got)
	}
	if got, open := metricValue(mfs, "pilb_backend_connections"), metricValue(mfs, "pilb_backend_idle_connections"); got < open {
		t.Errorf("%v backend connections open, fewer than the %v idle", got, open)
	}
	_ = demos
}

// TestMetricsBackendLeaves: a backend that leaves the table takes its
// series with it once its connections are gone; one that is replaced under
// the same id keeps its count going.
func TestMetricsBackendLeaves(t *testing.T) {
	s, demos := proxyToDemo(t, 2, Config{Loops: 1, ConnsPerBackend: 0, Operations: Operations{Metrics: true}})
	scrape := scrapeEngine(t, s)
	client := &http.Client{Timeout: 5 * time.Second}
	for range 4 {
		get(t, client, "http://"+s.Addr()+"/")
	}
	set := s.cfg.Backends
	old, _ := set.Remove("s2")
	old.SetDraining(true)
	client.CloseIdleConnections()
	// s2 again, a new Backend at the same address.
	if err := set.Add(&pool.Backend{ID: "s2", Addr: demos[1].Addr()}); err != nil {
		t.Fatal(err)
	}
	if !eventually(5*time.Second, func() bool { return old.Conns() == 0 }) {
		t.Fatalf("old s2 keeps %d connections", old.Conns())
	}
	for range 2 {
		get(t, client, "http://"+s.Addr()+"/")
	}
	mfs := scrape()
	if got := metricValue(mfs, "pilb_requests_total", "backend", "s2"); got != 3 {
		t.Errorf("s2 requests %v, want 3 (2 before its replacement, 1 after)", got)
	}
	set.Remove("s2")
	mfs = scrape()
	if eventually(5*time.Second, func() bool {
		mfs = scrape()
		return metricValue(mfs, "pilb_requests_total", "backend", "s2") == 0
	}) {
		return
	}
	t.Errorf("s2 still has series after it left: %v", metricValue(mfs, "pilb_requests_total", "backend", "s2"))
}
