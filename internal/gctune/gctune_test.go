package gctune

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

func TestGCPercentFor(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, gcMaxPercent},
		{1 << 20, gcMaxPercent},  // 1 MiB live: 64 MiB would be 6400%
		{4 << 20, 1600},          // 4 MiB live: goal 68 MiB
		{16 << 20, 400},          // 16 MiB: 64 MiB of garbage is exactly 400%
		{64 << 20, gcMinPercent}, // large policy sets keep the floor
		{10 << 20, 640},          // 10 MiB: 6.4x
		{3 << 20, 2134},          // rounded up
	} {
		if got := gcPercentFor(tc.live); got != tc.want {
			t.Errorf("gcPercentFor(%d) = %d, want %d", tc.live, got, tc.want)
		}
	}
}

func TestCgroupMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  uint64
	}{
		{"v2 limit", map[string]string{"memory.max": "268435456\n"}, 256 << 20},
		{"v2 unlimited", map[string]string{"memory.max": "max\n"}, 0},
		{"v1 limit", map[string]string{"memory/memory.limit_in_bytes": "134217728\n"}, 128 << 20},
		{"v1 unlimited", map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0},
		{"garbage", map[string]string{"memory.max": "lots\n"}, 0},
		{"none", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for name, body := range tc.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := cgroupMemoryLimit(root); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestGCPolicyKeepsOperatorSettings(t *testing.T) {
	env := map[string]string{"GOGC": "200", "GOMEMLIMIT": "1GiB"}
	g := NewServer(func(k string) string { return env[k] })
	if g.percent || g.limit {
		t.Fatalf("GOGC and GOMEMLIMIT set, yet the server would change them: %+v", g)
	}
	g = NewServer(func(string) string { return "" })
	if !g.percent || !g.limit {
		t.Fatalf("nothing set, yet the server would not tune: %+v", g)
	}
}

func TestCommand(t *testing.T) {
	oldPercent := debug.SetGCPercent(100)
	oldLimit := debug.SetMemoryLimit(-1)
	defer func() {
		debug.SetGCPercent(oldPercent)
		debug.SetMemoryLimit(oldLimit)
	}()
	Command(func(string) string { return "" })
	if p := debug.SetGCPercent(100); p != 400 {
		t.Errorf("GC percent %d, want 400", p)
	}
	if l := debug.SetMemoryLimit(-1); l != 48<<20 {
		t.Errorf("memory limit %d, want 48 MiB", l)
	}
	// What the operator set is kept.
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(1 << 40)
	Command(func(string) string { return "set" })
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("GOGC set, yet the percent became %d", p)
	}
	if l := debug.SetMemoryLimit(-1); l != 1<<40 {
		t.Errorf("GOMEMLIMIT set, yet the limit became %d", l)
	}
}

// TestPrefault checks that the prefaulted pages stay in the heap as free
// memory the process holds (not returned to the kernel), which is what
// the measurement needs.
func TestPrefault(t *testing.T) {
	old := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(old)
	Prefault(32)
	// Not before+32 MiB: a second run reuses the first one's free pages.
	if got := heapFree(); got < 30<<20 {
		t.Fatalf("free heap %d bytes after prefaulting 32 MiB: the pages were not kept", got)
	}
}

func heapFree() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
