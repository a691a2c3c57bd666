// Package envinfo captures the machine and build environment of a benchmark
// run and renders it as the "=== Environment ===" block that
// M3_BENCHMARK_PLAN.md ("Environment Capture") requires at the top of every
// benchmark report, so that results can be tied to the hardware, kernel, Go
// toolchain, build flags and commit that produced them.
//
// Capture never fails: anything it cannot read becomes "n/a" (a property the
// platform does not expose, such as the frequency governor inside a VM) or
// "unknown" (an identity that could not be determined, such as the commit).
package envinfo

import (
	"fmt"
	"strings"
)

// Env is a snapshot of the benchmark environment. Text fields hold
// human-readable values ready for printing; unreadable items are "n/a" or
// "unknown". The JSON form is meant to be stored next to benchmark results.
type Env struct {
	// OS is the operating system, e.g. "Linux (Debian GNU/Linux 12 (bookworm))":
	// runtime.GOOS plus PRETTY_NAME from /etc/os-release when present.
	OS string `json:"os"`
	// Kernel is the kernel release (/proc/sys/kernel/osrelease), or "n/a".
	Kernel string `json:"kernel"`
	// CPU is the processor brand string reported by CPUID, or "unknown".
	CPU string `json:"cpu"`
	// PhysicalCores is the number of physical cores: from Linux sysfs when
	// readable, else as reported by CPUID, else runtime.NumCPU().
	PhysicalCores int `json:"physical_cores"`
	// LogicalCores is the number of online hardware threads: from Linux
	// sysfs when readable, else as reported by CPUID, else runtime.NumCPU().
	LogicalCores int `json:"logical_cores"`
	// L1d, L1i, L2 and L3 are cache sizes as text ("32 KiB", "32 MiB"), or
	// "n/a" when undetected. The sizes are per core or shared as CPUID
	// reports them.
	L1d string `json:"l1d"`
	L1i string `json:"l1i"`
	L2  string `json:"l2"`
	L3  string `json:"l3"`
	// CacheLine is the cache line size in bytes reported by CPUID, or 64
	// when undetected.
	CacheLine int `json:"cache_line"`
	// Memory is the total RAM from /proc/meminfo as text ("23.4 GiB"), or "n/a".
	Memory string `json:"memory"`
	// Governor is the cpufreq scaling governor of cpu0 ("performance",
	// "powersave", ...), or "n/a" when the kernel exposes none, as in most VMs.
	Governor string `json:"governor"`
	// Virtualized reports that CPUID's hypervisor bit is set: the run is in a
	// virtual machine, where the plan's performance gates are not valid.
	Virtualized bool `json:"virtualized"`
	// Hypervisor names the hypervisor vendor when Virtualized, e.g. "KVM";
	// empty when unknown or not virtualized.
	Hypervisor string `json:"hypervisor,omitempty"`
	// GoVersion is runtime.Version(), e.g. "go1.26.8".
	GoVersion string `json:"go_version"`
	// GOOS and GOARCH are the target platform of the running binary.
	GOOS   string `json:"goos"`
	GOARCH string `json:"goarch"`
	// GOMAXPROCS is runtime.GOMAXPROCS(0) at capture time.
	GOMAXPROCS int `json:"gomaxprocs"`
	// NumCPU is runtime.NumCPU(): the logical CPUs the process may use.
	NumCPU int `json:"num_cpu"`
	// BuildFlags lists the non-default build settings of the running binary
	// ("-race CGO_ENABLED=1 GOAMD64=v1"), or "default" when there are none.
	BuildFlags string `json:"build_flags"`
	// GitCommit is the source revision, abbreviated, with "-dirty" when the
	// tree had local modifications, or "unknown".
	GitCommit string `json:"git_commit"`
	// CorePinning describes whether workers were pinned to cores. Capture
	// sets "no"; callers that use package pin overwrite it, e.g.
	// "yes (contention tests)".
	CorePinning string `json:"core_pinning"`
	// Timestamp is the capture time in UTC, RFC 3339.
	Timestamp string `json:"timestamp"`
}

// Format renders e as the plan's environment block, one "Label: value" line
// per item, ending with a newline:
//
//	=== Environment ===
//	OS:           Linux (Debian GNU/Linux 12 (bookworm)), kernel 6.1.0
//	CPU:          AMD EPYC 7B13 (1 cores, 2 threads)
//	Caches:       L1d 32 KiB, L2 512 KiB, L3 32 MiB (line 64 B)
//	Memory:       7.8 GiB
//	Governor:     n/a
//	Virtualized:  yes (hypervisor: KVM)
//	Go:           go1.26.8 linux/amd64
//	Build:        -race CGO_ENABLED=1 GOAMD64=v1
//	GOMAXPROCS:   2
//	Threads:      2 (available)
//	Core pinning: No
//	Timestamp:    2026-11-27T04:30:00Z
//	Git commit:   abc123f
//
// The Virtualized line appears only when e.Virtualized is set. Empty fields
// print as "n/a".
func (e Env) Format() string {
	var b strings.Builder
	line := func(label, value string) {
		fmt.Fprintf(&b, "%-14s%s\n", label+":", orNA(value))
	}
	b.WriteString("=== Environment ===\n")
	line("OS", e.osText())
	line("CPU", fmt.Sprintf("%s (%d cores, %d threads)", orNA(e.CPU), e.PhysicalCores, e.LogicalCores))
	line("Caches", fmt.Sprintf("L1d %s, L2 %s, L3 %s (line %d B)", orNA(e.L1d), orNA(e.L2), orNA(e.L3), e.CacheLine))
	line("Memory", e.Memory)
	line("Governor", e.Governor)
	if e.Virtualized {
		v := "yes (hypervisor)"
		if e.Hypervisor != "" {
			v = "yes (hypervisor: " + e.Hypervisor + ")"
		}
		line("Virtualized", v)
	}
	line("Go", e.goText())
	line("Build", e.BuildFlags)
	line("GOMAXPROCS", fmt.Sprint(e.GOMAXPROCS))
	line("Threads", fmt.Sprintf("%d (available)", e.NumCPU))
	line("Core pinning", capitalize(e.CorePinning))
	line("Timestamp", e.Timestamp)
	line("Git commit", e.GitCommit)
	return b.String()
}

// Short returns a one-line summary for report headers: OS, CPU (with " [VM]"
// when virtualized), memory, Go version and build flags, separated by "; ".
func (e Env) Short() string {
	cpu := orNA(e.CPU)
	if e.Virtualized {
		cpu += " [VM]"
	}
	return strings.Join([]string{orNA(e.OS), cpu, orNA(e.Memory), e.goText(), orNA(e.BuildFlags)}, "; ")
}

func (e Env) osText() string {
	if e.Kernel == "" || e.Kernel == na {
		return e.OS
	}
	return orNA(e.OS) + ", kernel " + e.Kernel
}

func (e Env) goText() string {
	s := orNA(e.GoVersion)
	if e.GOOS != "" || e.GOARCH != "" {
		s += " " + e.GOOS + "/" + e.GOARCH
	}
	return s
}

const (
	na      = "n/a"
	unknown = "unknown"
)

func orNA(s string) string {
	if strings.TrimSpace(s) == "" {
		return na
	}
	return s
}

// capitalize upper-cases the first letter of an ASCII-led string ("no" -> "No").
func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
