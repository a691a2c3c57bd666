package bench

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMeasureRedisWithoutServer: with nothing listening, MeasureRedis says
// so (no error, no figures) and the report falls back to the ballpark.
func TestMeasureRedisWithoutServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	res := MeasureRedis(RedisConfig{Addr: addr, PerMode: 10 * time.Millisecond}, nil)
	if res.Measured || len(res.Rows) != 0 || !strings.Contains(res.Reason, "no Redis server") {
		t.Fatalf("MeasureRedis without a server = %+v", res)
	}
}

// TestMeasureRedis runs the whole measurement briefly against REDIS_ADDR
// (set by .ci/run, which starts a loopback redis-server); skipped without it.
func TestMeasureRedis(t *testing.T) {
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		t.Skip("REDIS_ADDR not set: no Redis server to measure (.ci/run starts one)")
	}
	var lines []string
	res := MeasureRedis(RedisConfig{Addr: addr, PerMode: 20 * time.Millisecond}, func(s string) { lines = append(lines, s) })
	if !res.Measured {
		t.Fatalf("not measured: %s", res.Reason)
	}
	if want := len(redisOps()) * len(redisModes); len(res.Rows) != want || len(lines) != want {
		t.Fatalf("%d rows, %d progress lines; want %d", len(res.Rows), len(lines), want)
	}
	for _, r := range res.Rows {
		if r.Ops <= 0 || r.OpsPerSec <= 0 || r.RoundTripNs <= 0 || r.Ours == "" {
			t.Errorf("row %+v has an empty figure", r)
		}
	}
}
