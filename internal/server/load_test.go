package server

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoad sends ATTEST_LOAD_REQUESTS (at least 100,000) admission reviews
// over loopback from 16 connections and requires every one to succeed.
// It runs only with ATTEST_LOAD_TEST=1: it takes a minute of both cores.
func TestLoad(t *testing.T) {
	if os.Getenv("ATTEST_LOAD_TEST") != "1" {
		t.Skip("set ATTEST_LOAD_TEST=1 to send 100,000 requests")
	}
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("ATTEST_LOAD_REQUESTS")); err == nil && v > 0 {
		n = v
	}
	ts := start(t, newProject(t, nil))
	ts.waitReady(t)
	bodies := [][]byte{
		review("u1", "CREATE", compliantDeployment, ""),
		review("u2", "CREATE", privilegedPod, ""),
		review("u3", "UPDATE", noLimits, compliantDeployment),
	}
	const workers = 16
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}, Timeout: 10 * time.Second}
	var next, failed atomic.Int64
	lat := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				t0 := time.Now()
				resp, err := client.Post(ts.url+"/v1/admission", "application/json", bytes.NewReader(bodies[i%3]))
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	slices.Sort(all)
	t.Logf("%d requests in %v: %.0f/s, p50 %v, p99 %v, failed %d", n, elapsed.Round(time.Millisecond),
		float64(n)/elapsed.Seconds(), all[len(all)/2], all[len(all)*99/100], failed.Load())
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed", failed.Load())
	}
	if v := sample(ts.scrape(t), "attest_admission_reviews_total", nil); v != float64(n) {
		t.Errorf("reviews counted %v, want %d", v, n)
	}
}
