package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// dashboardExprs returns every query of docs/grafana-dashboard.json,
// checking that each panel and query takes the datasource variable.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(moduleRoot, "docs", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	type ds struct{ Type, UID string }
	var d struct {
		Templating struct {
			List []struct{ Name, Type, Query any }
		}
		Panels []struct {
			Type, Title string
			Datasource  *ds
			Targets     []struct {
				Expr       string
				Datasource *ds
			}
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	if !slices.ContainsFunc(d.Templating.List, func(v struct{ Name, Type, Query any }) bool {
		return v.Name == "datasource" && v.Type == "datasource" && v.Query == "prometheus"
	}) {
		t.Error("the dashboard has no Prometheus datasource variable")
	}
	var exprs []string
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q does not use the datasource variable", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Datasource == nil || tg.Datasource.UID != "${datasource}" {
				t.Errorf("a query of panel %q does not use the datasource variable", p.Title)
			}
			exprs = append(exprs, tg.Expr)
		}
	}
	if len(exprs) < 10 {
		t.Fatalf("only %d queries in the dashboard", len(exprs))
	}
	return exprs
}

var seriesName = regexp.MustCompile(`\brotor_[a-z0-9_]+`)

// TestGrafanaDashboardSeriesExist: every series the Grafana dashboard
// queries is exported by a real server after some traffic (streams,
// publications, an API error), with at least one sample, so no panel of
// docs/grafana-dashboard.json stays empty for a typo or a renamed metric.
func TestGrafanaDashboardSeriesExist(t *testing.T) {
	t.Parallel()
	exprs := dashboardExprs(t)
	srv := startServer(t, serverConfig{})

	const channel = "grafana"
	st := openSSE(t, srv.client, streamURL(srv.base, "sse", "g1", t, channel), "")
	st.expect(t, "sub")
	mustPublish(t, srv.client, srv.base, channel, 1)
	st.expect(t, "pub")
	if _, err := publish(t.Context(), srv.client, srv.base, "no-such-namespace:x", 1); err == nil {
		t.Fatal("publishing to an unknown namespace succeeded")
	}
	families := scrape(t, srv)

	var names []string
	for _, e := range exprs {
		names = append(names, seriesName.FindAllString(e, -1)...)
	}
	slices.Sort(names)
	for _, name := range slices.Compact(names) {
		f, ok := families[name]
		if !ok {
			base := name
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				base = strings.TrimSuffix(base, suf)
			}
			f, ok = families[base]
			if ok && f.GetType() != dto.MetricType_HISTOGRAM {
				t.Errorf("%s: %s is not a histogram", name, base)
				continue
			}
		}
		if !ok {
			t.Errorf("the dashboard queries %s; /metrics has no such series", name)
			continue
		}
		if len(f.GetMetric()) == 0 {
			t.Errorf("%s has no sample yet", name)
		}
	}
}
