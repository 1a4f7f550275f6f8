package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/continuums/attest/bench/load/loadgen"
)

func TestParseLists(t *testing.T) {
	for _, tc := range []struct {
		rates, env string
		wantRates  []float64
		wantEnv    []string
		wantErr    bool
	}{
		{rates: "", env: ""},
		{rates: "5000, 5700", env: "GOGC=200,GOMAXPROCS=4", wantRates: []float64{5000, 5700}, wantEnv: []string{"GOGC=200", "GOMAXPROCS=4"}},
		{rates: "fast", wantErr: true},
		{rates: "-3", wantErr: true},
		{env: "GOGC", wantErr: true},
		{env: "=1", wantErr: true},
	} {
		var c config
		err := parseLists(&c, tc.rates, tc.env)
		if (err != nil) != tc.wantErr {
			t.Errorf("parseLists(%q, %q): error %v, want error %v", tc.rates, tc.env, err, tc.wantErr)
			continue
		}
		if !slices.Equal(c.rates, tc.wantRates) || !slices.Equal(c.serverEnv, tc.wantEnv) {
			t.Errorf("parseLists(%q, %q) = %v %v, want %v %v", tc.rates, tc.env, c.rates, c.serverEnv, tc.wantRates, tc.wantEnv)
		}
	}
}

func TestGCCount(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/metrics":
			w.Write([]byte("# TYPE go_gc_duration_seconds summary\ngo_gc_duration_seconds{quantile=\"0.5\"} 1e-05\ngo_gc_duration_seconds_sum 0.01\ngo_gc_duration_seconds_count 42\n"))
		case "/none":
			w.Write([]byte("up 1\n"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	for path, want := range map[string]int{"/metrics": 42, "/none": -1, "/missing": -1} {
		if got := gcCount(srv.Client(), srv.URL+path); got != want {
			t.Errorf("gcCount(%s) = %d, want %d", path, got, want)
		}
	}
}

func TestWriteLatencies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "run1-attest-5000.tsv")
	r := loadgen.Result{Interval: 200 * time.Microsecond, Latencies: []time.Duration{1500 * time.Microsecond, -1, 250 * time.Microsecond}}
	if err := writeLatencies(path, r); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "scheduled_ms\tlatency_us\n0.000\t1500\n0.200\t-1\n0.400\t250\n"
	if string(got) != want {
		t.Errorf("latency log:\n%s\nwant:\n%s", got, want)
	}
}
