package envinfo

import (
	"encoding/json"
	"strings"
	"testing"
)

var labels = []string{
	"=== Environment ===", "OS:", "CPU:", "Caches:", "Memory:", "Governor:",
	"Go:", "Build:", "GOMAXPROCS:", "Threads:", "Core pinning:", "Timestamp:", "Git commit:",
}

func sample() Env {
	return Env{
		OS: "Linux (Debian GNU/Linux 12 (bookworm))", Kernel: "6.1.0",
		CPU: "AMD EPYC 7B13", PhysicalCores: 1, LogicalCores: 2,
		L1d: "32 KiB", L1i: "32 KiB", L2: "512 KiB", L3: "32 MiB", CacheLine: 64,
		Memory: "23.4 GiB", Governor: "n/a", GoVersion: "go1.26.8", GOOS: "linux", GOARCH: "amd64",
		GOMAXPROCS: 2, NumCPU: 2, BuildFlags: "default", GitCommit: "abc123f",
		CorePinning: "no", Timestamp: "2026-11-27T04:30:00Z",
	}
}

func TestFormatExact(t *testing.T) {
	want := `=== Environment ===
OS:           Linux (Debian GNU/Linux 12 (bookworm)), kernel 6.1.0
CPU:          AMD EPYC 7B13 (1 cores, 2 threads)
Caches:       L1d 32 KiB, L2 512 KiB, L3 32 MiB (line 64 B)
Memory:       23.4 GiB
Governor:     n/a
Go:           go1.26.8 linux/amd64
Build:        default
GOMAXPROCS:   2
Threads:      2 (available)
Core pinning: No
Timestamp:    2026-11-27T04:30:00Z
Git commit:   abc123f
`
	if got := sample().Format(); got != want {
		t.Fatalf("Format mismatch:\n got:\n%s\nwant:\n%s", got, want)
	}
}

func TestFormatVirtualized(t *testing.T) {
	e := sample()
	e.Virtualized = true
	if got := e.Format(); !strings.Contains(got, "\nVirtualized:  yes (hypervisor)\nGo:") {
		t.Fatalf("missing Virtualized line before Go:\n%s", got)
	}
	e.Hypervisor = "KVM"
	if got := e.Format(); !strings.Contains(got, "Virtualized:  yes (hypervisor: KVM)\n") {
		t.Fatalf("missing hypervisor vendor:\n%s", got)
	}
	if !strings.Contains(e.Short(), "[VM]") {
		t.Fatalf("Short does not flag VM: %s", e.Short())
	}
}

func TestFormatZeroValue(t *testing.T) {
	got := Env{}.Format()
	for _, l := range labels {
		if !strings.Contains(got, l) {
			t.Errorf("zero Env Format lacks %q", l)
		}
	}
	if strings.Contains(got, "Virtualized:") {
		t.Errorf("zero Env prints Virtualized line")
	}
	_ = Env{}.Short()
}

func TestShort(t *testing.T) {
	got := sample().Short()
	want := "Linux (Debian GNU/Linux 12 (bookworm)); AMD EPYC 7B13; 23.4 GiB; go1.26.8 linux/amd64; default"
	if got != want {
		t.Fatalf("Short() = %q, want %q", got, want)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	e := sample()
	data, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"core_pinning":"no"`) {
		t.Fatalf("unexpected JSON: %s", data)
	}
	var back Env
	if err := json.Unmarshal(data, &back); err != nil || back != e {
		t.Fatalf("round trip: err=%v\n got %+v\nwant %+v", err, back, e)
	}
}

func TestCapitalize(t *testing.T) {
	for in, want := range map[string]string{"": "", "no": "No", "Yes": "Yes", "1": "1", "é": "é"} {
		if got := capitalize(in); got != want {
			t.Errorf("capitalize(%q) = %q, want %q", in, got, want)
		}
	}
}
