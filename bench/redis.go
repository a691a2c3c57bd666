package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisConfig says which Redis server m3bench measures beside the in-process
// figures, and for how long.
type RedisConfig struct {
	// Addr is HOST:PORT of a running redis-server. It should be on loopback:
	// the comparison is in-process against one network hop on this machine.
	Addr string
	// PerMode is the measuring time of each (operation, connection mode)
	// pair. Every loop is also bounded in count (maxRedisOps).
	PerMode time.Duration
}

// RedisResult is what m3bench measured of Redis, or why it could not.
type RedisResult struct {
	Addr string `json:"addr"`
	// Measured is false when no server answered; Reason says why.
	Measured bool   `json:"measured"`
	Reason   string `json:"reason,omitempty"`
	// Version is the server's redis_version.
	Version string     `json:"version,omitempty"`
	Rows    []RedisRow `json:"rows,omitempty"`
}

// RedisRow is one operation in one connection mode.
type RedisRow struct {
	// Op is GET, SET, INCR, LPUSH+LPOP or MULTI/EXEC (SET + RPUSH, the shape
	// of cross_txn_kv_event).
	Op string `json:"op"`
	// Mode is one of redisModes' names.
	Mode string `json:"mode"`
	// Ops is the number of operations completed while measuring (a
	// LPUSH+LPOP pair and a MULTI/EXEC transaction each count as one).
	Ops int64 `json:"ops"`
	// OpsPerSec is Ops over the measuring time, all connections together.
	OpsPerSec float64 `json:"ops_per_sec"`
	// RoundTripNs is the mean time a client waited for one reply: one
	// command, or one pipeline of pipelineDepth commands.
	RoundTripNs float64 `json:"round_trip_ns"`
	// Ours names the in-process case this row is compared with.
	Ours string `json:"ours"`
}

const (
	pipelineDepth = 16
	manyConns     = 50
	maxRedisOps   = 5_000_000 // a bound on every loop, whatever PerMode says
	redisKeys     = 1024
	redisPrefix   = "substrate:m3bench:"
)

// redisMode is a connection pattern of the comparison.
type redisMode struct {
	name  string
	conns int
	depth int // commands per round trip
}

var redisModes = []redisMode{
	{"1 conn", 1, 1},
	{"1 conn, pipelined 16", 1, pipelineDepth},
	{"50 conns, pipelined 16", manyConns, pipelineDepth},
}

// redisOp is one measured operation: queue adds its commands for the i-th
// operation to a pipeline.
type redisOp struct {
	name  string
	ours  string // the in-process case it is compared with
	queue func(p redis.Pipeliner, ctx context.Context, i int)
}

// redisOps are pre-built so nothing is formatted inside the measuring loop:
// keys and values are made once.
func redisOps() []redisOp {
	keys := make([]string, redisKeys)
	for i := range keys {
		keys[i] = redisPrefix + "k" + strconv.Itoa(i)
	}
	val := strings.Repeat("v", 16)
	counter, list := redisPrefix+"counter", redisPrefix+"list"
	return []redisOp{
		{"GET", "kvstore_get", func(p redis.Pipeliner, ctx context.Context, i int) { p.Get(ctx, keys[i%redisKeys]) }},
		{"SET", "kvstore_put", func(p redis.Pipeliner, ctx context.Context, i int) { p.Set(ctx, keys[i%redisKeys], val, 0) }},
		{"INCR", "statecell_transition", func(p redis.Pipeliner, ctx context.Context, _ int) { p.Incr(ctx, counter) }},
		{"LPUSH+LPOP", "eventlog_append", func(p redis.Pipeliner, ctx context.Context, _ int) {
			p.LPush(ctx, list, val)
			p.LPop(ctx, list)
		}},
		// The shape of cross_txn_kv_event: a KV put and an event append,
		// atomically: MULTI, SET, RPUSH, EXEC (built in measureRedisMode).
		{"MULTI/EXEC", "cross_txn_kv_event", nil},
	}
}

// MeasureRedis measures Redis at cfg.Addr: every operation of redisOps in
// every mode of redisModes. Without a server it returns Measured == false and
// the reason, never an error: the report then shows the plan's ballpark.
// progress receives one line per row.
func MeasureRedis(cfg RedisConfig, progress func(string)) RedisResult {
	res := RedisResult{Addr: cfg.Addr}
	redis.SetLogger(quietLogger{}) // the report says what failed; no pool chatter on stderr
	if cfg.PerMode <= 0 {
		cfg.PerMode = time.Second
	}
	ctx := context.Background()
	probe := redis.NewClient(&redis.Options{Addr: cfg.Addr, PoolSize: 1, DialTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second})
	defer probe.Close()
	info, err := probe.Info(ctx, "server").Result()
	if err != nil {
		res.Reason = fmt.Sprintf("no Redis server at %s: %v", cfg.Addr, err)
		return res
	}
	res.Version = infoField(info, "redis_version")
	ops := redisOps()
	if err := seedRedis(ctx, probe); err != nil {
		res.Reason = "seeding Redis failed: " + err.Error()
		return res
	}
	defer cleanupRedis(ctx, probe)
	for _, op := range ops {
		for _, mode := range redisModes {
			row, err := measureRedisMode(ctx, cfg, op, mode)
			if err != nil {
				res.Reason = fmt.Sprintf("%s (%s): %v", op.name, mode.name, err)
				return res
			}
			res.Rows = append(res.Rows, row)
			if progress != nil {
				progress(fmt.Sprintf("redis %-10s %-24s %10.0f ops/s  round trip %s", op.name, mode.name, row.OpsPerSec, fmtNs(row.RoundTripNs)))
			}
			// Keep the lists bounded between modes.
			probe.Del(ctx, redisPrefix+"list", redisPrefix+"events")
		}
	}
	res.Measured = true
	return res
}

func seedRedis(ctx context.Context, c *redis.Client) error {
	p := c.Pipeline()
	for i := range redisKeys {
		p.Set(ctx, redisPrefix+"k"+strconv.Itoa(i), "v", 0)
	}
	_, err := p.Exec(ctx)
	return err
}

func cleanupRedis(ctx context.Context, c *redis.Client) {
	keys := []string{redisPrefix + "counter", redisPrefix + "list", redisPrefix + "events"}
	for i := range redisKeys {
		keys = append(keys, redisPrefix+"k"+strconv.Itoa(i))
	}
	c.Del(ctx, keys...)
}

// measureRedisMode runs op in mode for cfg.PerMode (after a short warm-up)
// and returns its throughput and mean round trip.
func measureRedisMode(ctx context.Context, cfg RedisConfig, op redisOp, mode redisMode) (RedisRow, error) {
	client := redis.NewClient(&redis.Options{
		Addr: cfg.Addr, PoolSize: mode.conns, MinIdleConns: mode.conns,
		DialTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
	})
	defer client.Close()
	tx := op.name == "MULTI/EXEC"
	txKeys := make([]string, redisKeys)
	for i := range txKeys {
		txKeys[i] = redisPrefix + "k" + strconv.Itoa(i)
	}
	txVal, txEvents := strings.Repeat("v", 16), redisPrefix+"events"
	roundTrip := func(i int) error {
		var p redis.Pipeliner
		if tx {
			// One MULTI/EXEC transaction per operation; pipelined modes send
			// depth transactions per round trip.
			// Generic Do commands, because inside MULTI the server answers
			// QUEUED to each command, which typed commands would reject.
			p = client.Pipeline()
			for j := range mode.depth {
				k := txKeys[(i+j)%redisKeys]
				p.Do(ctx, "multi")
				p.Do(ctx, "set", k, txVal)
				p.Do(ctx, "rpush", txEvents, txVal)
				p.Do(ctx, "exec")
			}
		} else {
			p = client.Pipeline()
			for j := range mode.depth {
				op.queue(p, ctx, i+j)
			}
		}
		_, err := p.Exec(ctx)
		if errors.Is(err, redis.Nil) {
			err = nil // LPOP of an empty list or GET of a missing key: not a failure
		}
		return err
	}
	// Warm-up: open every connection and touch the keys.
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for range mode.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if err := roundTrip(i * mode.depth); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return RedisRow{}, e.(error)
	}

	var ops, trips atomic.Int64
	deadline := time.Now().Add(cfg.PerMode)
	start := time.Now()
	perConn := int64(maxRedisOps / mode.conns)
	for c := range mode.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n, t int64
			for i := c * 7919; time.Now().Before(deadline) && n < perConn; i += mode.depth {
				if err := roundTrip(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					break
				}
				n += int64(mode.depth)
				t++
			}
			ops.Add(n)
			trips.Add(t)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if e := firstErr.Load(); e != nil {
		return RedisRow{}, e.(error)
	}
	row := RedisRow{Op: op.name, Mode: mode.name, Ops: ops.Load(), Ours: op.ours}
	row.OpsPerSec = float64(row.Ops) / elapsed.Seconds()
	if t := trips.Load(); t > 0 {
		// Each connection waited elapsed in total for its own trips.
		row.RoundTripNs = float64(elapsed.Nanoseconds()) * float64(mode.conns) / float64(t)
	}
	return row, nil
}

// infoField returns field's value from a Redis INFO reply.
func infoField(info, field string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return "unknown"
}

// quietLogger drops go-redis's internal log lines (dial retries and the
// like); MeasureRedis reports failures itself.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}
