// gocancel - the Go "nested for + select on ctx.Done()" pattern, for irqlat.
//
// Each round, K worker goroutines share one context.Context from
// context.WithCancel. A worker has an outer `for` loop paced by a
// time.Ticker (-tick) and an inner loop whose `select` checks ctx.Done() and
// otherwise (`default:`) sleeps -inner-sleep (or, with -inner-sleep 0, does a
// little arithmetic). After -run, main calls cancel(); each worker notices
// ctx.Done(), leaves both loops and reports done. Every worker goroutine calls
// runtime.LockOSThread(), so it stays on one OS thread for the whole round and
// its tid is the thread that fires the done marker; main is locked to the
// main thread (tid == pid).
//
//	gocancel [-workers K] [-rounds R] [-run D] [-tick D] [-inner-sleep D]
//	         [-inner-iters N] [-start-delay D] [-wait-file PATH] [-ignore-cancel]
//
// Durations use Go syntax: 200ms, 5ms, 200us, 1s.
//
// Markers (for uprobes; Go has no USDT): two plain functions, never inlined,
//
//	main.irqlatCancel(round int)  called right before cancel()
//	main.irqlatDone(round int)    called when a worker has seen ctx.Done()
//
// so `--cancel uprobe:main.irqlatCancel --done uprobe:main.irqlatDone`;
// `uprobe:context.(*cancelCtx).cancel` also fires once per round, inside
// cancel(), just after main.irqlatCancel. With Go's register ABI the round is
// in RAX at function entry.
//
// Output: stdout, one JSON object per line (each line is one write(2)). Per
// round, after all of that round's workers are done (so printing never runs
// inside a window), main prints
//
//	{"event":"cancel","round":R,"pid":P,"tid":T,"ts":NS,"ts_before":NS}   T = main thread
//	{"event":"done","round":R,"pid":P,"tid":T,"ts":NS,"ts_before":NS}     one per worker, in order of ts
//
// ts_before is stamped just before the marker, ts just after: [ts_before, ts]
// brackets the marker.
//
// R counts from 1 and is the argument of both markers; NS is CLOCK_MONOTONIC
// in nanoseconds (the clock of bpf_ktime_get_ns()), read with a raw
// clock_gettime system call; tid is gettid(). Order, the same at both ends:
// the marker, then the stamp (then cancel()), so the uprobe's trap-return cost
// is in both stamps and cancels out of the delay, as in cancel_loop.
//
// -ignore-cancel: workers never look at ctx.Done(), so no done line is ever
// printed; every round still starts K new workers and cancels their context
// (cancel lines are printed right away), and the program exits with status 0
// 100 ms after the last cancel, leaving R unfinished windows.
//
// Diagnostics go to stderr. Exit status: 0 on success, 2 on a usage error.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// irqlatCancel marks a cancel event for a uprobe. Keep it out of line: the
// uprobe is placed on the entry of the symbol main.irqlatCancel.
//
//go:noinline
func irqlatCancel(round int) {}

// irqlatDone marks a done event for a uprobe (symbol main.irqlatDone).
//
//go:noinline
func irqlatDone(round int) {}

// monotonicNs is clock_gettime(CLOCK_MONOTONIC) in nanoseconds. RawSyscall:
// a short system call that never blocks, so no scheduler hand-off between a
// marker and its stamp.
func monotonicNs() int64 {
	var ts syscall.Timespec
	const clockMonotonic = 1
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

type config struct {
	workers      int
	rounds       int
	run          time.Duration
	tick         time.Duration
	innerSleep   time.Duration
	innerIters   int
	startDelay   time.Duration
	waitFile     string
	ignoreCancel bool
}

type result struct {
	tid      int
	ts       int64
	tsBefore int64
}

var sink uint64 // keeps the busy variant's arithmetic alive (written by worker 0 only)

func spin(x uint64) uint64 {
	for i := 0; i < 256; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

func worker(ctx context.Context, id, round int, cfg *config, res *result, wg *sync.WaitGroup) {
	defer wg.Done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	res.tid = syscall.Gettid()

	ticker := time.NewTicker(cfg.tick)
	defer ticker.Stop()
	done := ctx.Done()
	if cfg.ignoreCancel {
		done = nil // a nil channel is never ready: the worker never stops
	}
	x := uint64(id + 1)

loop:
	for { // outer loop: once per tick
		select {
		case <-done:
			break loop
		case <-ticker.C:
		}
		for i := 0; i < cfg.innerIters; i++ { // inner loop
			select {
			case <-done:
				break loop
			default:
				if cfg.innerSleep > 0 {
					time.Sleep(cfg.innerSleep)
				} else {
					x = spin(x)
				}
			}
		}
	}
	// Noticed the cancellation: marker first, then the stamp, adjacent;
	// tsBefore brackets the marker from the other side.
	res.tsBefore = monotonicNs()
	irqlatDone(round)
	res.ts = monotonicNs()
	if id == 0 {
		sink = x
	}
}

func parseFlags() *config {
	cfg := &config{}
	fs := flag.NewFlagSet("gocancel", flag.ExitOnError)
	fs.IntVar(&cfg.workers, "workers", 4, "worker goroutines (each locked to its own OS thread)")
	fs.IntVar(&cfg.rounds, "rounds", 5, "cancel/restart rounds")
	fs.DurationVar(&cfg.run, "run", 200*time.Millisecond, "run time between start and cancel() of a round")
	fs.DurationVar(&cfg.tick, "tick", 5*time.Millisecond, "outer loop ticker period")
	fs.DurationVar(&cfg.innerSleep, "inner-sleep", 200*time.Microsecond, "sleep in the inner select's default branch (0: spin instead)")
	fs.IntVar(&cfg.innerIters, "inner-iters", 10, "inner loop iterations per tick")
	fs.DurationVar(&cfg.startDelay, "start-delay", 0, "wait before the first round")
	fs.StringVar(&cfg.waitFile, "wait-file", "", "wait until this file exists before the first round")
	fs.BoolVar(&cfg.ignoreCancel, "ignore-cancel", false, "workers never stop: every window stays unfinished; exit 100ms after the last cancel")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: gocancel [flags]\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "stdout: one JSON object per line:\n"+
			"  {\"event\":\"cancel\",\"round\":R,\"pid\":P,\"tid\":T,\"ts\":NS}\n"+
			"  {\"event\":\"done\",\"round\":R,\"pid\":P,\"tid\":T,\"ts\":NS}\n"+
			"ts = CLOCK_MONOTONIC ns; cancel: main.irqlatCancel then stamp; done: main.irqlatDone then stamp.\n")
	}
	fs.Parse(os.Args[1:])

	bad := func(format string, a ...interface{}) {
		fmt.Fprintf(os.Stderr, "gocancel: "+format+" (see -help)\n", a...)
		os.Exit(2)
	}
	switch {
	case fs.NArg() > 0:
		bad("unexpected argument %q", fs.Arg(0))
	case cfg.workers < 1:
		bad("-workers must be at least 1")
	case cfg.rounds < 1:
		bad("-rounds must be at least 1")
	case cfg.run < 0 || cfg.startDelay < 0 || cfg.innerSleep < 0:
		bad("durations must not be negative")
	case cfg.tick <= 0:
		bad("-tick must be positive")
	case cfg.innerIters < 1:
		bad("-inner-iters must be at least 1")
	}
	return cfg
}

func init() {
	// Keep main on the main thread, so the cancel line's tid is stable (== pid).
	runtime.LockOSThread()
}

func main() {
	cfg := parseFlags()
	pid := os.Getpid()
	mainTid := syscall.Gettid()
	fmt.Fprintf(os.Stderr, "gocancel: ready pid %d\n", pid)

	if cfg.waitFile != "" {
		for {
			if _, err := os.Stat(cfg.waitFile); err == nil {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	if cfg.startDelay > 0 {
		time.Sleep(cfg.startDelay)
	}

	for round := 1; round <= cfg.rounds; round++ {
		ctx, cancel := context.WithCancel(context.Background())
		results := make([]result, cfg.workers)
		var wg sync.WaitGroup
		for i := range results {
			wg.Add(1)
			go worker(ctx, i, round, cfg, &results[i], &wg)
		}
		time.Sleep(cfg.run)

		// Cancel: marker, then stamp, then cancel(), adjacent (as done does).
		tCancelBefore := monotonicNs()
		irqlatCancel(round)
		tCancel := monotonicNs()
		cancel()

		if !cfg.ignoreCancel {
			wg.Wait()
		}
		fmt.Fprintf(os.Stdout, "{\"event\":\"cancel\",\"round\":%d,\"pid\":%d,\"tid\":%d,\"ts\":%d,\"ts_before\":%d}\n",
			round, pid, mainTid, tCancel, tCancelBefore)
		if cfg.ignoreCancel {
			continue
		}
		sort.Slice(results, func(a, b int) bool { return results[a].ts < results[b].ts })
		for _, r := range results {
			fmt.Fprintf(os.Stdout, "{\"event\":\"done\",\"round\":%d,\"pid\":%d,\"tid\":%d,\"ts\":%d,\"ts_before\":%d}\n",
				round, pid, r.tid, r.ts, r.tsBefore)
		}
	}

	if cfg.ignoreCancel {
		time.Sleep(100 * time.Millisecond) // the workers are still running
		os.Exit(0)
	}
}
