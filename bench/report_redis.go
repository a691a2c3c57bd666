package bench

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// redisBallpark is the plan's "Redis Baseline Numbers" (single-threaded,
// server-side, "a modern machine"): what the report shows, labelled as
// ballpark, when no Redis server was measured in the run.
var redisBallpark = []struct{ op, throughput, latency, ours string }{
	{"GET", "5-10M ops/sec", "~100-200 ns", "kvstore_get"},
	{"SET", "3-6M ops/sec", "~200-300 ns", "kvstore_put"},
	{"INCR", "2-4M ops/sec", "~300-500 ns", "statecell_transition"},
	{"List push/pop", "1-3M ops/sec", "~400-1000 ns", "eventlog_append"},
}

// redisChecks are this project's bars against Redis measured in the same
// run (issue "The report"): in-process throughput and latency against
// Redis over loopback.
var redisChecks = []struct {
	desc       string
	ours       string
	op, mode   string
	throughput bool // compare throughput (ours/Redis); else latency (Redis/ours)
	min        float64
}{
	{"kvstore_get throughput vs Redis GET, 1 conn", "kvstore_get", "GET", "1 conn", true, 100},
	{"kvstore_get throughput vs Redis GET, 50 conns pipelined 16", "kvstore_get", "GET", "50 conns, pipelined 16", true, 5},
	{"cross_txn_kv_event latency vs Redis MULTI/EXEC, 1 conn", "cross_txn_kv_event", "MULTI/EXEC", "1 conn", false, 20},
}

// fmtRate formats ops/s as 13.1k, 6.70M.
func fmtRate(r float64) string {
	switch {
	case r <= 0:
		return "-"
	case r >= 1e6:
		return fmt.Sprintf("%.2fM", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.1fk", r/1e3)
	}
	return fmt.Sprintf("%.0f", r)
}

// redisRow returns the measured row for op in mode.
func (rep *Report) redisRow(op, mode string) (RedisRow, bool) {
	if rep.Redis == nil {
		return RedisRow{}, false
	}
	for _, r := range rep.Redis.Rows {
		if r.Op == op && r.Mode == mode {
			return r, true
		}
	}
	return RedisRow{}, false
}

// writeRedis prints the plan's "Redis Competitiveness Report": Redis measured
// in this run (or the plan's ballpark, labelled), head-to-head ratios, then
// the tier summary lines in the plan's format.
func (rep *Report) writeRedis(w io.Writer) {
	fmt.Fprintf(w, "\n=== Redis Competitiveness Report ===\n")
	fmt.Fprintf(w, "Environment: %s\n", rep.Env.Short())
	measured := rep.Redis != nil && rep.Redis.Measured
	if measured {
		fmt.Fprintf(w, "Redis: %s at %s, measured in this run over loopback through go-redis v9.\n", rep.Redis.Version, rep.Redis.Addr)
		fmt.Fprintf(w, "  Ours is in-process and single-goroutine (ops/s = 1e9 / ns/op); Redis pays a network round trip per\n")
		fmt.Fprintf(w, "  request (or per pipeline of 16). Latency is what one client waits per request or pipeline.\n")
		tw := newTable(w)
		row(tw, "redis op", "mode", "redis ops/s", "redis latency", "ours (case)", "ours ops/s", "ours latency", "throughput ours/redis", "latency redis/ours")
		for _, r := range rep.Redis.Rows {
			c, ok := rep.caseByName(r.Ours)
			oursRate, tput, lat := "-", "-", "-"
			oursNs := "not run"
			if ok && c.NsPerOp > 0 {
				oursRate = fmtRate(1e9 / c.NsPerOp)
				oursNs = fmtNs(c.NsPerOp)
				tput = fmtRatio((1e9 / c.NsPerOp) / r.OpsPerSec)
				lat = fmtRatio(r.RoundTripNs / c.NsPerOp)
			}
			row(tw, r.Op, r.Mode, fmtRate(r.OpsPerSec), fmtNs(r.RoundTripNs), r.Ours, oursRate, oursNs, tput, lat)
		}
		tw.Flush()
		fmt.Fprintf(w, "Checks (same run):\n")
		for _, ck := range redisChecks {
			r, rok := rep.redisRow(ck.op, ck.mode)
			c, cok := rep.caseByName(ck.ours)
			if !rok || !cok || c.NsPerOp <= 0 {
				fmt.Fprintf(w, "  %-62s n/a (not run)\n", ck.desc)
				continue
			}
			var got float64
			if ck.throughput {
				got = (1e9 / c.NsPerOp) / r.OpsPerSec
			} else {
				got = r.RoundTripNs / c.NsPerOp
			}
			v := "✓"
			if got < ck.min {
				v = "✗ below the bar"
			}
			fmt.Fprintf(w, "  %-62s %s (bar ≥%.0f×) %s\n", ck.desc, fmtRatio(got), ck.min, v)
		}
	} else {
		reason := "no Redis address given (-redis HOST:PORT or REDIS_ADDR)"
		if rep.Redis != nil && rep.Redis.Reason != "" {
			reason = rep.Redis.Reason
		}
		fmt.Fprintf(w, "Redis: NOT measured in this run: %s.\n", reason)
		fmt.Fprintf(w, "  The figures below are the plan's BALLPARK for Redis (single-threaded, server-side), not measurements.\n")
		tw := newTable(w)
		row(tw, "operation", "redis throughput (ballpark)", "redis latency (ballpark)", "ours (case)", "ours")
		for _, b := range redisBallpark {
			ours := "not run"
			if c, ok := rep.caseByName(b.ours); ok {
				ours = fmtNs(c.NsPerOp)
			}
			row(tw, b.op, b.throughput, b.latency, b.ours, ours)
		}
		tw.Flush()
	}
	rep.writeRedisTiers(w, measured)
}

// writeRedisTiers prints the tier summary of the plan's report format.
func (rep *Report) writeRedisTiers(w io.Writer, measured bool) {
	line := func(name, extra string) {
		if c, ok := rep.caseByName(name); ok {
			fmt.Fprintf(w, "  %-24s %-9s %s\n", name+":", fmtNs(c.NsPerOp), extra)
		}
	}
	get, hasGet := rep.redisRow("GET", "1 conn")
	fmt.Fprintf(w, "\nTier A0: Core Data Structure\n")
	for _, a := range []struct{ name, op, ballpark string }{
		{"core_get_hot", "GET", "~100-200 ns"}, {"core_put_hot", "SET", "~200-300 ns"}, {"core_cas_hot", "INCR", "~300-500 ns"},
	} {
		c, ok := rep.caseByName(a.name)
		if !ok {
			continue
		}
		if r, ok := rep.redisRow(a.op, "1 conn"); measured && ok {
			line(a.name, fmt.Sprintf("(Redis %s over loopback, 1 conn: %s per round trip, gap: %s in our favour)", a.op, fmtNs(r.RoundTripNs), fmtRatio(r.RoundTripNs/c.NsPerOp)))
		} else {
			line(a.name, fmt.Sprintf("(Redis %s ballpark: %s server-side)", a.op, a.ballpark))
		}
	}
	fmt.Fprintf(w, "\nTier A1: Correctness Wrapper\n")
	for _, c := range rep.Cases {
		if c.Tier == "A1" && c.Gate != observationGate && c.Metric == "" {
			mark := "✓"
			if c.GateFailed {
				mark = "✗"
			}
			line(c.Name, fmt.Sprintf("(M3 gate: %s) %s", gateA1Text, mark))
		}
	}
	if a0, ok := rep.caseByName("core_get_hot"); ok {
		if a1, ok := rep.caseByName("engine_get_direct"); ok {
			fmt.Fprintf(w, "  Correctness cost:        %s over A0 (GET)\n", fmtRatio(a1.NsPerOp/a0.NsPerOp))
		}
	}
	for _, t := range []struct{ tier, title string }{{"B", "Tier B: Transactions (Redis N/A)"}, {"C", "Tier C: Indexed (Redis N/A)"}} {
		first := true
		for _, c := range rep.Cases {
			if c.Tier != t.tier || c.Metric != "" || c.NsPerOp <= 0 {
				continue
			}
			if first {
				fmt.Fprintf(w, "\n%s\n", t.title)
				first = false
			}
			mark := "✓"
			if strings.HasPrefix(c.Verdict, "warning") {
				mark = "⚠"
			}
			line(c.Name, fmt.Sprintf("(target: %s) %s", fmtGoal(c.PlanGoalNs), mark))
		}
	}
	var d []CaseResult
	for _, c := range rep.Cases {
		if c.Tier == "D" {
			d = append(d, c)
		}
	}
	if len(d) > 0 {
		fmt.Fprintf(w, "\nTier D: Contention (Redis single-threaded)\n")
		for _, c := range d {
			keys := make([]string, 0, len(c.Metrics))
			for k := range c.Metrics {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var parts []string
			for _, k := range keys {
				parts = append(parts, fmt.Sprintf("%s=%.3g", k, c.Metrics[k]))
			}
			fmt.Fprintf(w, "  %-24s %s  %s\n", c.Name+":", c.Verdict, strings.Join(parts, " "))
		}
	}
	fmt.Fprintf(w, "\nFacade Tax:\n")
	for _, l := range facadeLadders {
		a0, ok0 := rep.caseByName(l.layers[0])
		a1, ok1 := rep.caseByName(l.layers[1])
		b, okb := rep.caseByName(l.layers[2])
		switch {
		case ok0 && ok1 && okb:
			fmt.Fprintf(w, "  %s: A0→A1 = %s, A1→B = %s, total = %s\n", l.op, fmtRatio(a1.NsPerOp/a0.NsPerOp), fmtRatio(b.NsPerOp/a1.NsPerOp), fmtRatio(b.NsPerOp/a0.NsPerOp))
		case ok0 && ok1:
			fmt.Fprintf(w, "  %s: A0→A1 = %s (B not run)\n", l.op, fmtRatio(a1.NsPerOp/a0.NsPerOp))
		}
	}
	if measured && hasGet {
		if c, ok := rep.caseByName("kvstore_get"); ok {
			fmt.Fprintf(w, "\nOverall: Redis's loopback GET at one connection takes %s as long as in-process kvstore_get\n", fmtRatio(get.RoundTripNs/c.NsPerOp))
			fmt.Fprintf(w, "  (a serializable snapshot read, with full transactions); Redis's raw server-side speed is not\n")
			fmt.Fprintf(w, "  what an agent in another process sees.\n")
		}
	}
	if failures := rep.GateFailures(); len(failures) > 0 {
		fmt.Fprintf(w, "Assessment: NOT ACCEPTABLE for M3: a hard gate failed (%s).\n", strings.Join(failures, "; "))
	} else {
		fmt.Fprintf(w, "Assessment: ACCEPTABLE for M3 on the gates this run measured (valid on the reference platform only).\n")
	}
}
