package bench_test

import (
	"fmt"
	"regexp"

	"github.com/substrate-lab/substrate/bench"
)

// ExampleMatch lists the plan's Tier A1 cases with their gates and goals:
// the registry that BenchmarkM3 and cmd/m3bench both run.
func ExampleMatch() {
	for _, c := range bench.Match(regexp.MustCompile(`^engine_(get|put)_direct$`)) {
		fmt.Printf("%s tier=%s gate=%s plan<%v ours<%v\n", c.Name, c.Tier, c.Gate, c.PlanGoal, c.OurGoal)
	}
	// Output:
	// engine_get_direct tier=A1 gate=hard<3us plan<500ns ours<80ns
	// engine_put_direct tier=A1 gate=hard<3us plan<1µs ours<250ns
}
