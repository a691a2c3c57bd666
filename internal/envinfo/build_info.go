package envinfo

import (
	"context"
	"os/exec"
	"runtime/debug"
	"strings"
	"time"
)

// gitTimeout bounds the fallback `git` invocations.
const gitTimeout = 2 * time.Second

// revisionLen is how many hex digits of a commit hash are reported.
const revisionLen = 12

// buildInfo returns the running binary's build flags and git commit.
func buildInfo() (flags, commit string) {
	var settings []debug.BuildSetting
	if bi, ok := debug.ReadBuildInfo(); ok {
		settings = bi.Settings
	}
	flags, commit = parseBuildSettings(settings)
	if commit == "" {
		commit = gitCommit()
	}
	return flags, commit
}

// parseBuildSettings extracts the build flags and the VCS commit from
// debug.BuildInfo settings. flags lists the settings that describe how the
// code was compiled, in their recorded order, leaving out defaults and those
// reported elsewhere (GOOS, GOARCH, -compiler=gc, -buildmode=exe, empty
// values, vcs.*); boolean flags print bare ("-race"). flags is "default" when
// nothing remains. commit is vcs.revision abbreviated to 12 digits, plus
// "-dirty" when vcs.modified is true, or "" when the binary has no VCS stamp.
func parseBuildSettings(settings []debug.BuildSetting) (flags, commit string) {
	var parts []string
	var rev string
	var dirty bool
	for _, s := range settings {
		switch k, v := s.Key, s.Value; {
		case k == "vcs.revision":
			rev = v
		case k == "vcs.modified":
			dirty = v == "true"
		case strings.HasPrefix(k, "vcs"), k == "GOOS", k == "GOARCH", k == "DefaultGODEBUG",
			k == "-compiler" && v == "gc", k == "-buildmode" && v == "exe", v == "":
			// Reported elsewhere, default, or empty.
		case strings.HasPrefix(k, "-") && v == "true":
			parts = append(parts, k)
		default:
			if strings.ContainsAny(v, " \t\"") {
				v = `"` + strings.ReplaceAll(v, `"`, `\"`) + `"`
			}
			parts = append(parts, k+"="+v)
		}
	}
	flags = "default"
	if len(parts) > 0 {
		flags = strings.Join(parts, " ")
	}
	if rev = shortRevision(rev); rev != "" {
		commit = rev
		if dirty {
			commit += "-dirty"
		}
	}
	return flags, commit
}

// gitCommit asks git in the current directory for HEAD and whether the
// working tree has changes (including untracked files, as the go command's
// vcs.modified does), within gitTimeout. It returns "unknown" when git is
// missing, times out, or the directory is not a repository.
func gitCommit() string {
	ctx, cancel := context.WithTimeout(context.Background(), gitTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "rev-parse", "HEAD").Output()
	if err != nil {
		return unknown
	}
	rev := parseGitRevision(out)
	if rev == "" {
		return unknown
	}
	status, err := exec.CommandContext(ctx, "git", "status", "--porcelain").Output()
	if err == nil && len(strings.TrimSpace(string(status))) > 0 {
		rev += "-dirty"
	}
	return rev
}

// parseGitRevision validates the output of `git rev-parse HEAD` and returns
// the abbreviated hash, or "" if the output is not a single hex hash.
func parseGitRevision(out []byte) string {
	return shortRevision(strings.TrimSpace(string(out)))
}

// shortRevision abbreviates a hex commit hash to revisionLen digits; it
// returns "" for anything that is not 7 to 64 hex digits (SHA-1 or SHA-256).
func shortRevision(rev string) string {
	if len(rev) < 7 || len(rev) > 64 {
		return ""
	}
	for _, c := range rev {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return ""
		}
	}
	return strings.ToLower(rev[:min(len(rev), revisionLen)])
}
