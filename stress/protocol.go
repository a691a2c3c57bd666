package stress

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/substrate-lab/substrate/internal/pin"
)

// The plan's phase lengths ("Contention Benchmark Protocol").
const (
	DefaultWarmup   = 500 * time.Millisecond
	DefaultMeasure  = 2000 * time.Millisecond
	DefaultCooldown = 500 * time.Millisecond
)

// The short protocol's phase lengths: for CI, `go test -benchtime 1x` and
// the default (un-flagged) stress tests.
const (
	ShortWarmup   = 50 * time.Millisecond
	ShortMeasure  = 200 * time.Millisecond
	ShortCooldown = 50 * time.Millisecond
)

// DefaultStopGrace is how long Run waits, after the cooldown, for workers
// still inside an operation before it declares them stuck.
const DefaultStopGrace = 10 * time.Second

// Latency histogram range: 1 ns to one minute at 3 significant digits
// (about 200 KiB per histogram). Longer operations are recorded as one
// minute in the histogram; Latency.Max and Latency.Mean stay exact.
const (
	histLowest  = 1
	histHighest = int64(time.Minute)
	histDigits  = 3
)

// firstErrorsKept is how many errors Run keeps per worker (all are counted).
const firstErrorsKept = 3

// Protocol is one run of the plan's contention protocol:
//
//	|--Warmup--|--Measure--|--Cooldown--|
//
// Workers goroutines call the operation in a loop for the whole run; only
// operations that complete during Measure are counted in the figures.
// Warmup lets caches, pools and the scheduler settle and Cooldown keeps the
// contention up until the last measured operation has finished, so neither
// a slow start nor an early finisher flatters the figures.
//
// The zero value is not runnable (Workers and Measure must be positive);
// start from DefaultProtocol or ShortProtocol and shorten with WithMeasure.
type Protocol struct {
	// Warmup, Measure and Cooldown are the phase lengths. Measure must be
	// positive; the others may be zero.
	Warmup, Measure, Cooldown time.Duration
	// Workers is the number of goroutines calling the operation (>= 1).
	Workers int
	// Pin pins worker i's OS thread to core i mod runtime.NumCPU() through
	// internal/pin for the whole run (the plan's "core pinning: yes" for
	// contention tests). Unpinned workers are placed by the Go scheduler.
	Pin bool
	// StopGrace bounds the wait for workers after the cooldown; a worker
	// still inside an operation then is reported stuck (a deadlock or
	// livelock) instead of hanging the caller. Zero means DefaultStopGrace.
	StopGrace time.Duration
}

// DefaultProtocol returns the plan's protocol (500 ms warmup, 2000 ms
// measurement, 500 ms cooldown) for workers goroutines, unpinned.
func DefaultProtocol(workers int) Protocol {
	return Protocol{Warmup: DefaultWarmup, Measure: DefaultMeasure, Cooldown: DefaultCooldown, Workers: workers}
}

// ShortProtocol returns the shortened protocol (50 ms / 200 ms / 50 ms) for
// CI runs and single-iteration benchmarks, for workers goroutines, unpinned.
func ShortProtocol(workers int) Protocol {
	return Protocol{Warmup: ShortWarmup, Measure: ShortMeasure, Cooldown: ShortCooldown, Workers: workers}
}

// WithMeasure returns p with the measurement phase set to d and warmup and
// cooldown set to d/4 each (the plan's 500:2000:500 proportions). A
// non-positive d returns p unchanged, so a zero flag value means "keep the
// default".
func (p Protocol) WithMeasure(d time.Duration) Protocol {
	if d <= 0 {
		return p
	}
	p.Warmup, p.Measure, p.Cooldown = d/4, d, d/4
	return p
}

// SchedulerSlice is the Go scheduler's time slice: a goroutine that runs
// without blocking is preempted after about this long (sysmon's forcePreemptNS).
const SchedulerSlice = 10 * time.Millisecond

// MinFairMeasure returns the shortest measurement phase in which each of
// workers CPU-bound goroutines gets about ten scheduler slices: 10 ×
// SchedulerSlice per round of ceil(workers / cores) goroutines, where cores
// is the smaller of GOMAXPROCS and runtime.NumCPU(). Below it a worker can
// see no success through time slicing alone (8 spinning workers on 2 busy
// cores in a 160 ms phase: single operations waited up to 90 ms for the
// CPU), which the starvation rule would misread as the system's
// unfairness. The plan's 2 s phase is above it for up to 20 workers per core.
func MinFairMeasure(workers int) time.Duration {
	cores := max(min(runtime.GOMAXPROCS(0), runtime.NumCPU()), 1)
	rounds := (max(workers, 1) + cores - 1) / cores
	return time.Duration(10*rounds) * SchedulerSlice
}

// Fair returns p with Measure raised to MinFairMeasure(p.Workers) if it is
// shorter (warmup and cooldown unchanged), so that short runs still judge
// starvation meaningfully. Call it after any GOMAXPROCS change.
func (p Protocol) Fair() Protocol {
	p.Measure = max(p.Measure, MinFairMeasure(p.Workers))
	return p
}

// Total returns the run's nominal length: warmup + measurement + cooldown.
func (p Protocol) Total() time.Duration { return p.Warmup + p.Measure + p.Cooldown }

// String renders p as "8 workers, 500ms/2s/500ms[, pinned]".
func (p Protocol) String() string {
	s := fmt.Sprintf("%d workers, %v/%v/%v", p.Workers, p.Warmup, p.Measure, p.Cooldown)
	if p.Pin {
		s += ", pinned"
	}
	return s
}

func (p Protocol) validate() error {
	switch {
	case p.Workers < 1:
		return fmt.Errorf("stress: protocol needs at least one worker, got %d", p.Workers)
	case p.Measure <= 0:
		return fmt.Errorf("stress: protocol needs a positive measurement phase, got %v", p.Measure)
	case p.Warmup < 0 || p.Cooldown < 0 || p.StopGrace < 0:
		return fmt.Errorf("stress: negative phase in %v", p)
	}
	return nil
}

// Op is one operation of a contention run, called by worker (0 ..
// Workers-1) in a loop. It returns how many attempts the operation took (1
// when it succeeded at once; transaction retries add one each) and nil on
// success, or an error when the operation failed for good (attempts then
// counts the failed tries). Values of attempts below 1 count as 1.
//
// An Op is called concurrently by all workers; its latency is measured
// around the whole call, retries included, so it should do nothing but the
// operation (build inputs in advance, per worker).
type Op func(worker int) (attempts int, err error)

// ErrGaveUp marks an operation that gave up: it exhausted its retry budget
// (db.Update's "gave up after 150 attempts") without a failure of its own.
// An Op returns an error wrapping it (fmt.Errorf("%w: %w", stress.ErrGaveUp,
// err)); Run counts such operations in GaveUp instead of Errors (they are no
// successes either), and Judge fails them only under Limits.GaveUp, so a run
// that guards a data invariant can tell "the system could not make
// progress" from "the operation broke".
var ErrGaveUp = errors.New("stress: operation gave up after exhausting its retries")

// ErrStuck is returned (wrapped) by Run when workers were still inside an
// operation StopGrace after the cooldown ended.
var ErrStuck = errors.New("stress: workers did not stop")

// Phases of a run, in order.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseCooldown
	phaseStop
)

// worker is one worker's private state: written only by its goroutine,
// read by Run after the goroutine has exited.
type worker struct {
	id   int
	hist *hdrhistogram.Histogram

	successes, attempts, all, errors int64
	gaveUp                           int64
	maxAttempts                      int
	sumNs, maxNs                     int64
	firstErrors                      []error
	firstGaveUp                      error
	panic                            *Panic
	pinErr                           error

	done atomic.Bool // set when the goroutine exits
	_    [64]byte    // keep neighbours' hot fields apart
}

// Run runs the protocol p, calling op from p.Workers goroutines, and
// returns the measured figures.
//
// Each worker loops until the cooldown ends: it records the start time,
// calls op, and if the call completed during the measurement phase counts
// it (attempts always; success, latency and throughput if it returned nil).
// Successes in every phase are counted apart (AllSuccesses) for invariant
// checks, and errors and give-ups (ErrGaveUp) are counted in every phase. Latencies go to one HDR
// histogram per worker (hdrhistogram-go is not goroutine-safe), merged at
// the end.
//
// A panic in op is recovered: the worker records it with its stack
// (Result.Panics) and stops, and the run goes on; so does a worker that
// leaves op through runtime.Goexit (t.FailNow from a worker goroutine).
// With p.Pin, each worker pins its OS thread before the warmup starts;
// if pinning fails, Run stops the workers and returns the error.
//
// Run returns a non-nil error, with whatever was measured, when p is
// invalid, pinning failed, ctx ended the run early (ctx.Err()), or workers
// were stuck (ErrStuck; their figures are left out, Result.Stuck names
// them and Result.StuckStacks holds every goroutine's stack). Everything
// else, panics included, is reported in the Result; judge it with
// Result.Judge.
func Run(ctx context.Context, p Protocol, op Op) (Result, error) {
	if p.StopGrace == 0 {
		p.StopGrace = DefaultStopGrace
	}
	res := Result{Protocol: p, NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
	if err := p.validate(); err != nil {
		return res, err
	}
	if op == nil {
		return res, errors.New("stress: nil op")
	}

	var (
		phase   atomic.Int32
		ready   sync.WaitGroup
		running sync.WaitGroup
		start   = make(chan struct{})
		workers = make([]*worker, p.Workers)
	)
	phase.Store(phaseWarmup)
	ready.Add(p.Workers)
	running.Add(p.Workers)
	for i := range workers {
		w := &worker{id: i, hist: hdrhistogram.New(histLowest, histHighest, histDigits)}
		workers[i] = w
		go w.loop(p.Pin, &phase, &ready, &running, start, op)
	}
	ready.Wait()
	var pinErrs []error
	for _, w := range workers {
		if w.pinErr != nil { // written before ready.Done
			pinErrs = append(pinErrs, w.pinErr)
		}
	}
	if len(pinErrs) > 0 {
		phase.Store(phaseStop)
		close(start)
		running.Wait()
		return res, errors.Join(pinErrs...)
	}
	res.Pinned = p.Pin && pin.Supported()

	var runErr error
	close(start)
	sleep := func(d time.Duration) bool {
		if runErr != nil {
			return false
		}
		if d <= 0 {
			return true
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
			runErr = ctx.Err()
			return false
		}
	}
	if sleep(p.Warmup) {
		cpu0, cpuOK := processCPU()
		sys0, sysOK := systemBusy()
		measureStart := time.Now()
		phase.Store(phaseMeasure)
		sleep(p.Measure)
		phase.Store(phaseCooldown)
		res.Measured = time.Since(measureStart)
		res.OtherCPU = -1
		if cpu1, ok := processCPU(); ok && cpuOK {
			res.CPUTime = cpu1 - cpu0
			if sys1, ok := systemBusy(); ok && sysOK {
				res.OtherCPU = max(sys1-sys0-res.CPUTime, 0)
			}
		}
		sleep(p.Cooldown)
	}
	phase.Store(phaseStop)

	stopped := make(chan struct{})
	go func() { running.Wait(); close(stopped) }()
	grace := time.NewTimer(p.StopGrace)
	defer grace.Stop()
	select {
	case <-stopped:
	case <-grace.C:
		buf := make([]byte, 1<<20)
		res.StuckStacks = string(buf[:runtime.Stack(buf, true)])
		for _, w := range workers {
			if !w.done.Load() {
				res.Stuck = append(res.Stuck, w.id)
			}
		}
		runErr = errors.Join(runErr, fmt.Errorf("%w: workers %v still inside an operation %v after the cooldown (deadlock or livelock?)", ErrStuck, res.Stuck, p.StopGrace))
	}
	res.collect(workers)
	return res, runErr
}

// loop is one worker's goroutine.
func (w *worker) loop(doPin bool, phase *atomic.Int32, ready, running *sync.WaitGroup, start <-chan struct{}, op Op) {
	normal := false
	defer func() {
		if !normal && w.panic == nil {
			w.panic = &Panic{Worker: w.id, Value: "runtime.Goexit: the op exited its goroutine (t.FailNow or t.Fatal called from a worker?)", Stack: string(debug.Stack())}
		}
		w.done.Store(true)
		running.Done()
	}()
	if doPin {
		unpin, err := pin.Pin(w.id)
		if err != nil {
			w.pinErr = fmt.Errorf("stress: pin worker %d: %w", w.id, err)
		}
		defer unpin()
	}
	ready.Done()
	<-start
	for phase.Load() != phaseStop && w.pinErr == nil {
		t0 := time.Now()
		attempts, pv, err := call(op, w.id)
		ns := int64(time.Since(t0))
		if pv != nil {
			w.panic = pv
			break
		}
		attempts = max(attempts, 1)
		switch {
		case err == nil:
			w.all++
		case errors.Is(err, ErrGaveUp):
			w.gaveUp++
			if w.firstGaveUp == nil {
				w.firstGaveUp = err
			}
		default:
			w.errors++
			if len(w.firstErrors) < firstErrorsKept {
				w.firstErrors = append(w.firstErrors, err)
			}
		}
		if phase.Load() != phaseMeasure {
			continue
		}
		w.attempts += int64(attempts)
		w.maxAttempts = max(w.maxAttempts, attempts)
		if err != nil {
			continue
		}
		w.successes++
		w.sumNs += ns
		w.maxNs = max(w.maxNs, ns)
		_ = w.hist.RecordValue(min(max(ns, histLowest), histHighest))
	}
	normal = true
}

// call runs op once, turning a panic into a *Panic with the stack.
func call(op Op, worker int) (attempts int, p *Panic, err error) {
	defer func() {
		if v := recover(); v != nil {
			p = &Panic{Worker: worker, Value: v, Stack: string(debug.Stack())}
		}
	}()
	attempts, err = op(worker)
	return attempts, nil, err
}

// Panic is a panic recovered from a worker's operation.
type Panic struct {
	// Worker is the worker whose operation panicked.
	Worker int
	// Value is the value passed to panic (or a description of a
	// runtime.Goexit).
	Value any
	// Stack is the panicking goroutine's stack, from debug.Stack.
	Stack string
}

// String renders the panic with its stack.
func (p Panic) String() string {
	return fmt.Sprintf("worker %d panicked: %v\n%s", p.Worker, p.Value, p.Stack)
}
