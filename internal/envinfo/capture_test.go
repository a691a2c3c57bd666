package envinfo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCapture(t *testing.T) {
	e := Capture()
	if e.GoVersion == "" {
		t.Error("empty GoVersion")
	}
	if e.GOMAXPROCS <= 0 || e.NumCPU <= 0 || e.PhysicalCores <= 0 || e.LogicalCores <= 0 {
		t.Errorf("non-positive counts: %+v", e)
	}
	if e.CacheLine <= 0 {
		t.Errorf("CacheLine = %d", e.CacheLine)
	}
	if e.CorePinning != "no" {
		t.Errorf("CorePinning = %q, want no", e.CorePinning)
	}
	if _, err := time.Parse(time.RFC3339, e.Timestamp); err != nil || !strings.HasSuffix(e.Timestamp, "Z") {
		t.Errorf("Timestamp %q is not UTC RFC 3339: %v", e.Timestamp, err)
	}
	for name, v := range map[string]string{
		"OS": e.OS, "Kernel": e.Kernel, "CPU": e.CPU, "L1d": e.L1d, "L1i": e.L1i, "L2": e.L2, "L3": e.L3,
		"Memory": e.Memory, "Governor": e.Governor, "BuildFlags": e.BuildFlags, "GitCommit": e.GitCommit,
	} {
		if v == "" {
			t.Errorf("%s is empty; want a value, n/a or unknown", name)
		}
	}
	out := e.Format()
	for _, l := range labels {
		if !strings.Contains(out, l) {
			t.Errorf("Format lacks %q", l)
		}
	}
	t.Logf("\n%s", out)
	t.Logf("Short: %s", e.Short())
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadLineGovernor(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no", "scaling_governor")
	if got := readLine(missing); got != "n/a" {
		t.Errorf("unreadable governor = %q, want n/a", got)
	}
	if got := readLine(t.TempDir()); got != "n/a" { // a directory
		t.Errorf("directory governor = %q, want n/a", got)
	}
	if got := readLine(writeFile(t, "\n")); got != "n/a" {
		t.Errorf("empty governor = %q, want n/a", got)
	}
	if got := readLine(writeFile(t, "performance\n")); got != "performance" {
		t.Errorf("governor = %q, want performance", got)
	}
}

func TestReadMemTotal(t *testing.T) {
	for content, want := range map[string]string{
		"MemTotal:       24534560 kB\nMemFree: 1 kB\n": "23.4 GiB",
		"MemFree: 1 kB\nMemTotal: 8388608 kB\n":        "8 GiB",
		"MemTotal: lots\n":                             "n/a",
		"MemTotal: 5\n":                                "n/a",
		"MemTotal: -5 kB\n":                            "n/a",
		"":                                             "n/a",
	} {
		if got := readMemTotal(writeFile(t, content)); got != want {
			t.Errorf("readMemTotal(%q) = %q, want %q", content, got, want)
		}
	}
	if got := readMemTotal(filepath.Join(t.TempDir(), "missing")); got != "n/a" {
		t.Errorf("missing meminfo = %q, want n/a", got)
	}
}

func TestReadOSRelease(t *testing.T) {
	for content, want := range map[string]string{
		"NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n": "Debian GNU/Linux 12 (bookworm)",
		"PRETTY_NAME=Alpine\n":       "Alpine",
		"PRETTY_NAME='Arch Linux'\n": "Arch Linux",
		"NAME=x\n":                   "",
	} {
		if got := readOSRelease(writeFile(t, content)); got != want {
			t.Errorf("readOSRelease(%q) = %q, want %q", content, got, want)
		}
	}
	if got := readOSRelease(filepath.Join(t.TempDir(), "missing")); got != "" {
		t.Errorf("missing os-release = %q, want empty", got)
	}
}

func TestOSName(t *testing.T) {
	for _, tc := range []struct{ goos, pretty, want string }{
		{"linux", "Debian GNU/Linux 12 (bookworm)", "Linux (Debian GNU/Linux 12 (bookworm))"},
		{"linux", "", "Linux"},
		{"darwin", "", "macOS"},
		{"windows", "", "Windows"},
	} {
		if got := osName(tc.goos, tc.pretty); got != tc.want {
			t.Errorf("osName(%q, %q) = %q, want %q", tc.goos, tc.pretty, got, tc.want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{-1, "n/a"}, {0, "0 B"}, {512, "512 B"}, {32 << 10, "32 KiB"}, {512 << 10, "512 KiB"},
		{1536 << 10, "1.5 MiB"}, {32 << 20, "32 MiB"}, {96 << 20, "96 MiB"},
		{25122889728, "23.4 GiB"}, {1 << 62, "4 EiB"}, {1<<63 - 1, "8.0 EiB"},
	} {
		if got := formatBytes(tc.n); got != tc.want {
			t.Errorf("formatBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestParseCPUList(t *testing.T) {
	for in, want := range map[string]int{
		"0": 1, "0-1\n": 2, "0-3,8,10-11": 7, "": 0, "n/a": 0, "3-1": 0, "-1": 0, "0-": 0,
		"0-99999999": 0, "1,,2": 0,
	} {
		if got := len(parseCPUList(in)); got != want {
			t.Errorf("len(parseCPUList(%q)) = %d, want %d", in, got, want)
		}
	}
}

func TestSysfsTopology(t *testing.T) {
	root := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if c, th := sysfsTopology(root); c != 0 || th != 0 {
		t.Fatalf("empty dir: got (%d, %d), want (0, 0)", c, th)
	}
	// Two cores with two SMT threads each: CPUs 0,2 and 1,3 are siblings.
	write("online", "0-3\n")
	for cpu, sib := range []string{"0,2", "1,3", "0,2", "1,3"} {
		write(filepath.Join("cpu"+string(rune('0'+cpu)), "topology", "thread_siblings_list"), sib+"\n")
	}
	if c, th := sysfsTopology(root); c != 2 || th != 4 {
		t.Fatalf("got (%d cores, %d threads), want (2, 4)", c, th)
	}
	write("online", "0-4\n") // cpu4 has no topology: cores unknown
	if c, th := sysfsTopology(root); c != 0 || th != 5 {
		t.Fatalf("got (%d cores, %d threads), want (0, 5)", c, th)
	}
}
