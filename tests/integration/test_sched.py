"""Scheduling tables against the target's own view: its voluntary context
switches (getrusage) and its CLOCK_MONOTONIC wake-to-run stamps; against
`perf sched timehist` on the same run; and a CPU hog placed on the target's
CPU must show up as runqueue time."""
import json
import math
import os
import signal
import subprocess
import time

import pytest

from conftest import Tracer, json_lines, out_path, run_irqlat, target, wait_for


def thread_rows(doc):
    return {t["tid"]: t for t in doc["threads"]}


@pytest.mark.parametrize("attach", ["tp_btf", "raw_tp"])
def test_pingpong_wakeups_and_latency_bounded_by_target_stamps(attach):
    rounds = 20000
    env = dict(os.environ, IRQLAT_FORCE_RAW_TP="1" if attach == "raw_tp" else "0")
    out = out_path("pingpong")
    res = run_irqlat(["trace", "-v", "-f", "json", "-o", out, "--",
                      target("pingpong"), "--rounds", str(rounds), "--cpu", "0,1"], timeout=120, env=env)
    assert "(%s)" % attach in res.stderr
    assert res.returncode == 0, res.stderr
    with open(out) as f:
        doc = json.load(f)
    assert doc["events"]["dropped"] == 0
    tool = thread_rows(doc)
    own = json_lines(res.stdout)
    assert len(own) == 2, res.stdout
    for t in own:
        row = tool[t["tid"]]
        stamps = t["wake_to_run_ns"]
        print("tid %d: tool wakeups %d, nvcsw %d; sched p50/p99/max tool %d/%d/%d, own %d/%d/%d" % (
            t["tid"], row["wakeups"], t["nvcsw"], row["sched_p50_ns"], row["sched_p99_ns"],
            row["sched_max_ns"], stamps["p50"], stamps["p99"], stamps["max"]))
        # Every block (voluntary switch) is followed by exactly one wakeup.
        # 2% as in test_kernel_accounting_equals_streamed_timeline (CI: 1.04%).
        assert abs(row["wakeups"] - t["nvcsw"]) <= max(3, 0.02 * t["nvcsw"])
        assert row["wakeups"] > rounds * 0.9
        # The tool's wakeup->run is inside the target's write->read-returned
        # stamps, so each order statistic is no larger (percentiles are
        # bucket midpoints: 1% resolution).
        assert 0 < row["sched_p50_ns"] <= stamps["p50"] * 1.01
        assert row["sched_p99_ns"] <= stamps["p99"] * 1.01
        assert row["sched_max_ns"] <= stamps["max"]
        assert row["oncpu_ns"] > 0


def test_targets_stay_counted_while_the_task_gate_is_rebuilt():
    """The task gate (docs/measurement.md) turns non-target events away by a
    hash of the task's address, and is rebuilt when target threads exit.
    A command that runs pingpong again and again gives it new target
    threads, exits and rebuilds all along: every thread's wakeups must
    still match its own count of blocking reads."""
    runs, rounds = 6, 15000
    out = out_path("gate")
    # The pauses make the run last seconds on any machine: the gate is
    # rebuilt at most once a second.
    script = " ; sleep 0.4 ; ".join(["%s --rounds %d --cpu 0,1" % (target("pingpong"), rounds)] * runs)
    res = run_irqlat(["trace", "-v", "-f", "json", "-o", out, "--", "sh", "-c", script], timeout=120)
    assert res.returncode == 0, res.stderr
    builds = [int(l.split()[4]) for l in res.stderr.splitlines() if l.startswith("irqlat: task gate built")]
    assert builds, res.stderr
    # One build at the start; then at most one a second after pingpong
    # processes exited (the run takes seconds, its first one exits early).
    print("gate builds: %d" % builds[0])
    assert builds[0] >= 2, res.stderr
    with open(out) as f:
        doc = json.load(f)
    assert doc["events"]["dropped"] == 0
    tool = thread_rows(doc)
    own = json_lines(res.stdout)
    assert len(own) == 2 * runs, res.stdout
    for t in own:
        row = tool.get(t["tid"])
        assert row is not None, (t, sorted(tool))
        print("tid %d: tool wakeups %d, nvcsw %d" % (t["tid"], row["wakeups"], t["nvcsw"]))
        # A gate miss loses a thread's events until the next rebuild (most
        # of a run). The oracle's own noise (a wakeup landing before the
        # switch-out) reached 1.84% in 12 threads without the gate, so 4%.
        assert abs(row["wakeups"] - t["nvcsw"]) <= max(3, 0.04 * t["nvcsw"])


def run_sleeper(with_hog):
    hog = None
    if with_hog:
        hog = subprocess.Popen([target("cpuhog"), "--cpu", "1"])
    try:
        out = out_path("sleeper")
        res = run_irqlat(["trace", "-f", "json", "-o", out, "--", target("sleeper"),
                          "--cpu", "1", "--seconds", "2", "--work-us", "2000"], timeout=60)
    finally:
        if hog:
            hog.terminate()
            hog.wait()
    assert res.returncode == 0, res.stderr
    with open(out) as f:
        doc = json.load(f)
    own = json_lines(res.stdout)[-1]
    return thread_rows(doc)[own["tid"]], own


def test_cpu_hog_on_target_cpu_raises_runqueue_time():
    """Behind a hog, the sleeper's runqueue time is the kernel's own count of
    it (schedstat run_delay, read by the sleeper as it ends). Alone it has
    ~30 us per wakeup out of idle, which run_delay does not count here; the
    premise of the run alone (nothing else holds CPU 1) is checked by that
    same kernel count, and a run that broke it is repeated, at most twice."""
    hogged, own_hogged = run_sleeper(True)
    for attempt in range(3):
        alone, own_alone = run_sleeper(False)
        if own_alone["run_delay_ns"] <= 0.1 * own_hogged["run_delay_ns"]:
            break
        print("attempt %d: CPU 1 was not free, the kernel counts %d ns of runqueue wait alone; again"
              % (attempt + 1, own_alone["run_delay_ns"]))
    else:
        pytest.fail("CPU 1 was never free of other tasks for the run alone in 3 attempts")
    print("runqueue alone %d ns (%d wakeups; kernel %d), with hog %d ns (%d wakeups; kernel %d)" % (
        alone["runqueue_ns"], alone["wakeups"], own_alone["run_delay_ns"], hogged["runqueue_ns"],
        hogged["wakeups"], own_hogged["run_delay_ns"]))
    assert alone["wakeups"] > 300 and hogged["wakeups"] > 100
    # 0.4-0.5% apart here: the tool's wait starts at sched_waking, the
    # kernel's at the enqueue, and the sleeper reads its count before exit.
    assert abs(hogged["runqueue_ns"] - own_hogged["run_delay_ns"]) <= 0.03 * own_hogged["run_delay_ns"]
    assert hogged["runqueue_ns"] >= 1_000_000
    # ~30x here.
    assert hogged["runqueue_ns"] >= 5 * alone["runqueue_ns"]
    # On-CPU time against the kernel's own sum_exec_runtime (schedstat's
    # first field, read by the sleeper as it ends): 0.05-0.4% apart here.
    # The kernel starts a run out of idle at the wakeup (the switch reuses
    # the wakeup's clock read), irqlat at the switch; with
    # CONFIG_IRQ_TIME_ACCOUNTING the kernel's count also leaves out the
    # interrupt time irqlat includes.
    for name, row, own in (("alone", alone, own_alone), ("hogged", hogged, own_hogged)):
        print("%s: on-cpu %d ns, kernel run %d ns (%+.2f%%)" % (
            name, row["oncpu_ns"], own["run_ns"], 100.0 * (row["oncpu_ns"] - own["run_ns"]) / own["run_ns"]))
        assert own["run_ns"] > 100_000_000
        assert row["oncpu_ns"] >= 0.98 * own["run_ns"]
        assert row["oncpu_ns"] <= 1.02 * own["run_ns"] + row["hardirq_ns"] + row["softirq_ns"]


def timehist_wakeup_latencies(data, pid):
    """Wakeup -> on-CPU latencies (ns) of pid's main thread by `perf sched
    timehist`. Its rows are the thread's runs, each with the scheduling
    delay before it and the state it left the CPU in; a run after one that
    ended asleep (S, D, I) started with a wakeup, so its delay is one sample
    (perf leaves a preempted thread's wait out of the delay)."""
    out = subprocess.run(["perf", "sched", "timehist", "-i", data, "--state", "-t", str(pid)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = []
    for line in out.stdout.splitlines():
        # time [cpu] comm[tid] wait(ms) sch-delay(ms) run-time(ms) state
        f = line.split()
        if len(f) >= 7 and f[0][0].isdigit() and f[1].startswith("[") and f[2].endswith("[%d]" % pid):
            rows.append((float(f[4]), f[6]))
    return sorted(round(delay * 1e6) for (_, state), (delay, _) in zip(rows, rows[1:])
                  if state in ("S", "D", "I"))


def test_sched_latency_agrees_with_perf_sched_timehist(tmp_path):
    """SPEC 7: scheduling latency against `perf sched timehist` on the same
    run. The sleeper waits behind a CPU hog (~1 ms per wakeup), so its CPU
    is never idle, where perf 6.1 here misses events; that its record is
    complete is checked against the sleeper's own count of its sleeps
    (getrusage nvcsw), and a run perf did not record fully is repeated, at
    most twice. perf stamps with the scheduler clock, irqlat with
    CLOCK_MONOTONIC: microseconds apart at most here."""
    if not os.path.ismount("/sys/kernel/tracing"):
        subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"], check=True)
    for attempt in range(3):
        data = str(tmp_path / ("perf-%d.data" % attempt))
        hog = subprocess.Popen([target("cpuhog"), "--cpu", "1", "--seconds", "60"])
        perf = subprocess.Popen(["perf", "sched", "record", "-o", data, "--", "sleep", "60"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            # perf writes its header once its events are open.
            wait_for_size(data, 1)
            time.sleep(0.2)
            out = out_path("sleeper-perf")
            res = run_irqlat(["trace", "-f", "json", "-o", out, "--", target("sleeper"), "--cpu", "1",
                              "--seconds", "2", "--work-us", "2000"], timeout=60)
        finally:
            perf.send_signal(signal.SIGINT)
            perf.communicate(timeout=60)
            hog.kill()
            hog.wait()
        assert res.returncode == 0, res.stderr
        own = json_lines(res.stdout)[-1]
        with open(out) as f:
            row = thread_rows(json.load(f))[own["tid"]]
        lat = timehist_wakeup_latencies(data, own["tid"])
        print("attempt %d: wakeups: irqlat %d, perf %d, the sleeper's own nvcsw %d" % (
            attempt + 1, row["wakeups"], len(lat), own["nvcsw"]))
        if abs(len(lat) - own["nvcsw"]) <= max(3, 0.02 * own["nvcsw"]):
            break
    else:
        pytest.fail("perf never recorded the sleeper's wakeups completely in 3 attempts")

    assert abs(row["wakeups"] - len(lat)) <= max(3, 0.02 * len(lat))

    def rank(p):
        return lat[max(1, math.ceil(p * len(lat))) - 1]
    for name, p in (("p50", 0.5), ("p99", 0.99), ("max", 1.0)):
        tool, oracle = row["sched_%s_ns" % name], rank(p)
        print("sched %s: irqlat %d ns, perf %d ns" % (name, tool, oracle))
        # Percentiles are bucket midpoints (0.8%); perf prints microseconds.
        assert abs(tool - oracle) <= 0.02 * oracle + 10_000, (name, tool, oracle)
    assert rank(0.5) >= 100_000  # the premise: it waited behind the hog


@pytest.mark.parametrize("mode", ["kernel", "streamed"])
def test_a_thread_asleep_when_tracing_starts_counts_its_wakeup(mode):
    """`head -c 1` blocks reading a pipe (State S in /proc) when tracing
    starts, and is woken exactly once, by the byte the test writes after
    irqlat says it traces; then it exits. That wakeup and its latency count
    although irqlat never saw it block. Kernel-accounted (-p) and streamed
    (windows on) threads alike."""
    prog = subprocess.Popen(["head", "-c", "1"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        def asleep():
            with open("/proc/%d/status" % prog.pid) as f:
                return "State:\tS" in f.read()
        wait_for(asleep, what="head blocked on its pipe")
        extra = ["--cancel", "signal:TERM", "--done", "exit"] if mode == "streamed" else []
        tr = Tracer(["trace", "-p", str(prog.pid), "-f", "json"] + extra)
        assert asleep()  # still, once irqlat traces
        prog.stdin.write(b"x")
        prog.stdin.close()
        doc = tr.json(timeout=60)
    finally:
        prog.kill()
        prog.wait()
    row = thread_rows(doc)[prog.pid]
    print(mode, row)
    assert row["wakeups"] == 1
    assert row["sched_p50_ns"] > 0 and row["sched_max_ns"] > 0


def wait_for_size(path, n, timeout=20):
    end = time.monotonic() + timeout
    while not (os.path.exists(path) and os.path.getsize(path) >= n):
        assert time.monotonic() < end, "%s never reached %d bytes" % (path, n)
        time.sleep(0.02)


@pytest.mark.parametrize("attach,hot_slots", [("tp_btf", None), ("raw_tp", None), ("tp_btf", 1), ("raw_tp", 1)])
def test_kernel_accounting_equals_streamed_timeline(attach, hot_slots, tmp_path):
    """`trace` without windows accounts the threads tables in the kernel;
    `record` streams every scheduler event and rebuilds them in user space.
    Both trace the same pingpong run at once (threads created after both
    attached), so their rows must agree, and both must agree with the
    threads' own voluntary switch counts. With one hot slot, every account
    but one lives in the fallback (task storage, or the tid hash)."""
    env = {"IRQLAT_FORCE_RAW_TP": "1" if attach == "raw_tp" else "0"}
    if hot_slots:
        env["IRQLAT_HOT_SLOTS"] = str(hot_slots)
    go = tmp_path / "go"
    pp = subprocess.Popen([target("pingpong"), "--rounds", "20000", "--cpu", "0,1", "--wait-file", str(go)],
                          stdout=subprocess.PIPE, text=True)
    try:
        kernel = Tracer(["trace", "-v", "-f", "json", "-p", str(pp.pid)], env=env)
        stream = Tracer(["record", "-f", "json", "-o", str(tmp_path / "r.rec"), "-p", str(pp.pid)], env=env)
        go.touch()
        own = json_lines(pp.communicate(timeout=120)[0])
    finally:
        pp.kill()
    assert "(%s)" % attach in "".join(kernel.stderr_lines)
    k, s = thread_rows(kernel.json()), thread_rows(stream.json())
    assert len(own) == 2
    for t in own:
        a, b = k[t["tid"]], s[t["tid"]]
        print("tid %d kernel/stream: wakeups %d/%d (nvcsw %d), preemptions %d/%d, oncpu %d/%d, "
              "runqueue %d/%d, sched p50 %d/%d p99 %d/%d" % (
                  t["tid"], a["wakeups"], b["wakeups"], t["nvcsw"], a["preemptions"], b["preemptions"],
                  a["oncpu_ns"], b["oncpu_ns"], a["runqueue_ns"], b["runqueue_ns"],
                  a["sched_p50_ns"], b["sched_p50_ns"], a["sched_p99_ns"], b["sched_p99_ns"]))
        assert a["exited"] and b["exited"]
        # Against the threads' own counts: a voluntary switch whose wakeup
        # lands before the switch-out is no BLOCKED -> RUNNABLE wakeup, and
        # a loaded machine has more of those (1.04% seen in CI), so 2% here;
        # the two tracers must agree far more closely (next assertions).
        for row in (a, b):
            assert abs(row["wakeups"] - t["nvcsw"]) <= max(3, 0.02 * t["nvcsw"])
        # A wakeup racing a switch-out on another CPU can be ordered
        # differently by the two (kernel: the order the programs updated
        # the account; stream: timestamps): 0.24% under CPU load, so 0.5%.
        assert abs(a["wakeups"] - b["wakeups"]) <= max(3, 0.005 * b["wakeups"])
        assert abs(a["preemptions"] - b["preemptions"]) <= max(3, 0.02 * b["preemptions"])
        # Two tracers on one tracepoint run one after the other, so their
        # stamps differ by a program's run time (~0.2 us a switch): about
        # 1.5% of on-CPU time moves between on-CPU and runqueue here.
        assert abs(a["oncpu_ns"] - b["oncpu_ns"]) <= 0.03 * b["oncpu_ns"] + 500_000
        assert abs(a["runqueue_ns"] - b["runqueue_ns"]) <= 0.05 * b["runqueue_ns"] + 500_000
        assert a["sched_p50_ns"] == pytest.approx(b["sched_p50_ns"], rel=0.1, abs=300)
        assert a["sched_max_ns"] <= t["wake_to_run_ns"]["max"]
