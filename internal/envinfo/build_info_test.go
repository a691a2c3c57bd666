package envinfo

import (
	"runtime/debug"
	"testing"
)

func TestParseBuildSettings(t *testing.T) {
	for _, tc := range []struct {
		name       string
		in         []debug.BuildSetting
		flags, rev string
	}{
		{name: "nil", flags: "default"},
		{
			name: "defaults only",
			in: []debug.BuildSetting{
				{Key: "-buildmode", Value: "exe"}, {Key: "-compiler", Value: "gc"},
				{Key: "CGO_CFLAGS", Value: ""}, {Key: "GOARCH", Value: "amd64"}, {Key: "GOOS", Value: "linux"},
			},
			flags: "default",
		},
		{
			name: "go test -race",
			in: []debug.BuildSetting{
				{Key: "-buildmode", Value: "exe"}, {Key: "-compiler", Value: "gc"},
				{Key: "-race", Value: "true"}, {Key: "CGO_ENABLED", Value: "1"},
				{Key: "CGO_CFLAGS", Value: ""}, {Key: "GOARCH", Value: "amd64"},
				{Key: "GOOS", Value: "linux"}, {Key: "GOAMD64", Value: "v1"},
			},
			flags: "-race CGO_ENABLED=1 GOAMD64=v1",
		},
		{
			name: "stamped dirty",
			in: []debug.BuildSetting{
				{Key: "-gcflags", Value: "all=-N -l"}, {Key: "-ldflags", Value: "-s"},
				{Key: "-trimpath", Value: "true"}, {Key: "CGO_ENABLED", Value: "0"},
				{Key: "GOAMD64", Value: "v3"}, {Key: "DefaultGODEBUG", Value: "x=1"},
				{Key: "vcs", Value: "git"},
				{Key: "vcs.revision", Value: "ABC123F00D5EED0123456789abcdef0123456789"},
				{Key: "vcs.time", Value: "2026-01-01T00:00:00Z"},
				{Key: "vcs.modified", Value: "true"},
			},
			flags: `-gcflags="all=-N -l" -ldflags=-s -trimpath CGO_ENABLED=0 GOAMD64=v3`,
			rev:   "abc123f00d5e-dirty",
		},
		{
			name:  "stamped clean",
			in:    []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123f"}, {Key: "vcs.modified", Value: "false"}},
			flags: "default",
			rev:   "abc123f",
		},
		{
			name:  "garbage revision",
			in:    []debug.BuildSetting{{Key: "vcs.revision", Value: "not-a-hash"}, {Key: "vcs.modified", Value: "true"}},
			flags: "default",
		},
	} {
		flags, rev := parseBuildSettings(tc.in)
		if flags != tc.flags || rev != tc.rev {
			t.Errorf("%s: got (%q, %q), want (%q, %q)", tc.name, flags, rev, tc.flags, tc.rev)
		}
	}
}

func TestParseGitRevision(t *testing.T) {
	for in, want := range map[string]string{
		"0123456789abcdef0123456789abcdef01234567\n": "0123456789ab",
		"abc123f\n": "abc123f",
		"":          "",
		"abc12\n":   "",
		"fatal: not a git repository (or any of the parent directories): .git\n": "",
		"abc123f\nabc123f\n": "",
	} {
		if got := parseGitRevision([]byte(in)); got != want {
			t.Errorf("parseGitRevision(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGitCommitFallback(t *testing.T) {
	// The package directory is inside the repository when tests run from
	// a checkout; outside one (or without git) the answer is "unknown".
	got := gitCommit()
	if got != unknown && parseGitRevision([]byte(trimDirty(got))) == "" {
		t.Fatalf("gitCommit() = %q, want a hash or %q", got, unknown)
	}
	t.Logf("gitCommit() = %q", got)

	t.Chdir(t.TempDir())
	if got := gitCommit(); got != unknown {
		t.Logf("gitCommit() outside a repository = %q (temp dir inside a repository?)", got)
	}
}

func trimDirty(s string) string {
	if len(s) > 6 && s[len(s)-6:] == "-dirty" {
		return s[:len(s)-6]
	}
	return s
}
