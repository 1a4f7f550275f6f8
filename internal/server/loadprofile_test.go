package server

import (
	"context"
	"os"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/continuums/attest/bench/load/loadgen"
)

// TestLoadProfile writes a CPU profile of the server under open-loop load
// (bench/load/loadgen) to $ATTEST_LOAD_PROFILE: the real server on
// 127.0.0.1, the bench/ policies, the bench/load review, at
// $ATTEST_LOAD_RATE requests/s (default 2000) for 10 s. The generator runs
// in the same process, so the profile shows it too (bench/load/loadgen).
//
//	ATTEST_LOAD_PROFILE=/tmp/serve.prof go test -run TestLoadProfile ./internal/server
//	go tool pprof -top /tmp/serve.prof
func TestLoadProfile(t *testing.T) {
	out := os.Getenv("ATTEST_LOAD_PROFILE")
	if out == "" {
		t.Skip("set ATTEST_LOAD_PROFILE=FILE to profile the server under load")
	}
	rate := 2000.0
	if v, err := strconv.ParseFloat(os.Getenv("ATTEST_LOAD_RATE"), 64); err == nil && v > 0 {
		rate = v
	}
	s, body := benchServer(t)
	addr, _, _ := runServer(t, s)
	ctx := context.Background()
	g := loadgen.New(256)
	target := loadgen.Target{Name: "attest", URL: "http://" + addr + "/v1/admission", Body: body}
	g.Run(ctx, target, rate/2, time.Second) // warm up
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	r := g.Run(ctx, target, rate, 10*time.Second)
	pprof.StopCPUProfile()
	t.Logf("%s", r)
	if r.Errors > 0 {
		t.Errorf("%d requests failed", r.Errors)
	}
}
