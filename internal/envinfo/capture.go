package envinfo

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/cpuid/v2"
)

// Files read by Capture. The helpers that read them take the path as an
// argument so tests can point them elsewhere.
const (
	osReleasePath = "/etc/os-release"
	kernelPath    = "/proc/sys/kernel/osrelease"
	meminfoPath   = "/proc/meminfo"
	governorPath  = "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"
	sysCPUPath    = "/sys/devices/system/cpu"
)

// Capture snapshots the current environment. It never panics and never
// fails: unreadable items become "n/a" or "unknown". CorePinning is set to
// "no"; callers that pin cores should overwrite it. Determining the git
// commit may run `git` (bounded to 2 s) when the binary carries no VCS
// stamp, as with `go test` or GOFLAGS=-buildvcs=false.
func Capture() Env {
	ncpu := runtime.NumCPU()
	c := cpuid.CPU
	cores, threads := sysfsTopology(sysCPUPath)
	e := Env{
		OS:            osName(runtime.GOOS, readOSRelease(osReleasePath)),
		Kernel:        readLine(kernelPath),
		CPU:           unknown,
		PhysicalCores: positiveOr(cores, positiveOr(c.PhysicalCores, ncpu)),
		LogicalCores:  positiveOr(threads, positiveOr(c.LogicalCores, ncpu)),
		L1d:           formatBytes(int64(c.Cache.L1D)),
		L1i:           formatBytes(int64(c.Cache.L1I)),
		L2:            formatBytes(int64(c.Cache.L2)),
		L3:            formatBytes(int64(c.Cache.L3)),
		CacheLine:     positiveOr(c.CacheLine, 64),
		Memory:        readMemTotal(meminfoPath),
		Governor:      readLine(governorPath),
		Virtualized:   c.VM(),
		GoVersion:     runtime.Version(),
		GOOS:          runtime.GOOS,
		GOARCH:        runtime.GOARCH,
		GOMAXPROCS:    runtime.GOMAXPROCS(0),
		NumCPU:        ncpu,
		CorePinning:   "no",
		Timestamp:     time.Now().UTC().Format(time.RFC3339),
	}
	if name := strings.TrimSpace(c.BrandName); name != "" {
		e.CPU = name
	}
	if e.Virtualized && c.HypervisorVendorID != cpuid.VendorUnknown {
		e.Hypervisor = c.HypervisorVendorID.String()
	}
	e.BuildFlags, e.GitCommit = buildInfo()
	return e
}

// sysfsTopology counts the online logical CPUs and the distinct physical
// cores (distinct thread_siblings_list values) under a Linux
// /sys/devices/system/cpu directory. It returns 0 for what it cannot read.
// Capture prefers it to CPUID, whose topology leaves describe the host
// rather than the guest on some hypervisors (e.g. 254 cores on a 2-vCPU VM).
func sysfsTopology(root string) (cores, threads int) {
	cpus := parseCPUList(readLine(filepath.Join(root, "online")))
	seen := make(map[string]bool)
	for _, cpu := range cpus {
		s := readLine(filepath.Join(root, fmt.Sprintf("cpu%d", cpu), "topology", "thread_siblings_list"))
		if s == na {
			return 0, len(cpus)
		}
		seen[s] = true
	}
	return len(seen), len(cpus)
}

// maxCPUs bounds parseCPUList so a corrupt list cannot allocate without limit.
const maxCPUs = 1 << 16

// parseCPUList parses a kernel CPU list such as "0-3,8,10-11" into CPU
// numbers. It returns nil for anything malformed.
func parseCPUList(s string) []int {
	var cpus []int
	for part := range strings.SplitSeq(strings.TrimSpace(s), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 0 || b < a || b-a >= maxCPUs-len(cpus) {
			return nil
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus
}

// osName combines GOOS ("linux" -> "Linux") with the distribution's pretty
// name when known.
func osName(goos, pretty string) string {
	name := capitalize(goos)
	if goos == "darwin" {
		name = "macOS"
	}
	if pretty == "" {
		return name
	}
	return name + " (" + pretty + ")"
}

// readOSRelease returns PRETTY_NAME from an os-release file, or "".
func readOSRelease(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "PRETTY_NAME=")
		if !ok {
			continue
		}
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		} else {
			v = strings.Trim(v, `"'`)
		}
		return strings.TrimSpace(v)
	}
	return ""
}

// readLine returns the trimmed contents of a small one-line file such as a
// sysfs attribute, or "n/a" if it is unreadable or empty.
func readLine(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return na
	}
	return orNA(strings.TrimSpace(string(data)))
}

// readMemTotal returns MemTotal from a /proc/meminfo-format file as text
// ("23.4 GiB"), or "n/a".
func readMemTotal(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return na
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		f := strings.Fields(rest) // e.g. ["24534560", "kB"]
		if len(f) != 2 || f[1] != "kB" {
			return na
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb <= 0 || kb > 1<<53 {
			return na
		}
		return formatBytes(kb * 1024)
	}
	return na
}

// formatBytes renders n bytes with the largest binary unit it reaches:
// "512 B", "32 KiB", "1.5 MiB", "23.4 GiB". A whole number of units prints
// without decimals. n < 0 (undetected) gives "n/a".
func formatBytes(n int64) string {
	if n < 0 {
		return na
	}
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	div, i := int64(1024), 0
	for n/div >= 1024 && i < len(units)-1 {
		div *= 1024
		i++
	}
	if n%div == 0 {
		return fmt.Sprintf("%d %ciB", n/div, units[i])
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), units[i])
}

func positiveOr(n, fallback int) int {
	if n > 0 {
		return n
	}
	return fallback
}
