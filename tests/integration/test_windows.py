"""Cancellation windows against the targets' own CLOCK_MONOTONIC stamps
(SPEC sections 4 and 7): every cancel/done pair appears once, each delay
agrees with the program's own measurement, the parts add up to the delay,
and injected interference lands in the right part."""
import json
import os
import signal
import statistics
import subprocess
import time

import pytest

from conftest import (Tracer, block_device_irq, delta, example, irq_cpus, json_lines, out_path,
                      read_interrupts, run_irqlat, target)

PARTS = ("running_ns", "runqueue_ns", "hardirq_ns", "softirq_ns", "blocked_ns")


def check_sum_invariant(doc):
    for w in doc["windows"]["list"]:
        assert sum(w[p] for p in PARTS) == w["delay_ns"], w
        assert w["end_ns"] - w["start_ns"] == w["delay_ns"], w


def own_pairs(lines):
    """One dict per done line: the program's cancel and done stamps. Each
    marker is bracketed by a stamp just before it (ts_before) and one just
    after (ts)."""
    cancels = {l["round"]: l for l in lines if l["event"] == "cancel"}
    return [{"cancel": cancels[l["round"]], "done": l, "tid": l["tid"]} for l in lines if l["event"] == "done"]


def inside_brackets(w, pair):
    """The tool stamps inside the marker, so its window lies within the
    program's brackets [ts_before, ts] of the cancel and of the done (a
    thread preempted around a marker widens its bracket, by milliseconds
    under a CPU hog)."""
    c, d = pair["cancel"], pair["done"]
    return (w["tid"] == pair["tid"] and c["ts_before"] - 1000 <= w["start_ns"] <= c["ts"] + 1000
            and d["ts_before"] - 1000 <= w["end_ns"] <= d["ts"] + 1000)


def match_windows(doc, lines, min_pairs):
    """Matches windows.list one-to-one with the program's stamps by time and
    returns the delay errors (tool - own) in ns.

    The program's own delay is done.ts - cancel.ts. A marker fires somewhere
    inside its bracket [ts_before, ts], which is a few microseconds wide
    unless the thread was interrupted or preempted around the marker, so the
    true delay lies in [done.ts_before - cancel.ts, done.ts - cancel.ts_before].
    Each tool delay must be within max(20 us, 2%) of the program's delay, or
    inside that bracket widened by the same tolerance."""
    check_sum_invariant(doc)
    pairs = own_pairs(lines)
    assert len(pairs) >= min_pairs, lines
    windows = list(doc["windows"]["list"])
    assert doc["windows"]["count"] == len(pairs), (doc["windows"]["count"], len(pairs))
    errors, bracketed = [], 0
    for p in pairs:
        c, d = p["cancel"], p["done"]
        near = [w for w in windows if inside_brackets(w, p)]
        assert len(near) == 1, ("no single window inside the brackets of", p, windows)
        w = near[0]
        windows.remove(w)
        own = d["ts"] - c["ts"]
        tol = max(20_000, 0.02 * own)
        err = w["delay_ns"] - own
        lo, hi = d["ts_before"] - c["ts"], d["ts"] - c["ts_before"]
        if abs(err) > tol:
            assert lo - tol <= w["delay_ns"] <= hi + tol, (w, own, err, (lo, hi))
            bracketed += 1
        errors.append(err)
    assert not windows, ("windows without a stamp pair", windows)
    abs_err = sorted(abs(e) for e in errors)
    print("%d windows; |tool - own| median %d ns, p99 %d ns, max %d ns; %d outside 20us/2%% "
          "but inside the marker brackets" % (len(errors), statistics.median(abs_err),
                                              abs_err[int(0.99 * (len(abs_err) - 1))], abs_err[-1], bracketed))
    return errors


def trace_json(args, timeout=120):
    out = out_path("windows")
    res = run_irqlat(["trace", "-f", "json", "-o", out] + args, timeout=timeout)
    assert res.returncode == 0, res.stderr
    with open(out) as f:
        doc = json.load(f)
    assert doc["events"]["dropped"] == 0
    return doc, json_lines(res.stdout)


@pytest.mark.parametrize("mode", ["sleep", "block", "busy"])
def test_usdt_windows_match_cancel_loop_stamps(mode):
    # No --cancel/--done: the target has the irqlat USDT markers, so they
    # are the default.
    doc, lines = trace_json(["--", example("cancel_loop"), "--threads", "3", "--rounds", "4",
                             "--mode", mode, "--run-ms", "100"])
    assert doc["windows"]["unfinished"] == 0
    match_windows(doc, lines, 12)


def test_explicit_usdt_spec_with_path():
    exe = os.path.realpath(example("cancel_loop"))
    doc, lines = trace_json(["--cancel", "usdt:%s:irqlat:cancel" % exe, "--done", "usdt:irqlat:done",
                             "--", exe, "--threads", "2", "--rounds", "3", "--mode", "sleep",
                             "--run-ms", "100"])
    match_windows(doc, lines, 6)


def test_go_uprobe_windows_match_gocancel_stamps():
    doc, lines = trace_json(["--cancel", "uprobe:main.irqlatCancel", "--done", "uprobe:main.irqlatDone",
                             "--", example("gocancel"), "-workers", "3", "-rounds", "4", "-run", "100ms"])
    match_windows(doc, lines, 12)


def test_go_runtime_symbol_as_cancel():
    # context.(*cancelCtx).cancel: a Go symbol with dots, parentheses and '*'.
    doc, lines = trace_json(["--cancel", "uprobe:context.(*cancelCtx).cancel",
                             "--done", "uprobe:main.irqlatDone",
                             "--", example("gocancel"), "-workers", "2", "-rounds", "3", "-run", "100ms"])
    check_sum_invariant(doc)
    pairs = own_pairs(lines)
    assert doc["windows"]["count"] == len(pairs) == 6
    for p in pairs:
        # The runtime's cancel runs after the program's own cancel stamp
        # (marker, stamp, cancel()) and before any worker can notice it (the
        # done stamp); the done marker is inside its bracket. Bounds from the
        # program's stamps, not fixed delays: a preemption between the stamp
        # and the runtime's cancel only moves the start within them.
        c, d = p["cancel"], p["done"]
        near = [w for w in doc["windows"]["list"] if w["tid"] == p["tid"]
                and c["ts"] - 1000 <= w["start_ns"] <= d["ts_before"]
                and d["ts_before"] - 1000 <= w["end_ns"] <= d["ts"] + 1000]
        assert len(near) == 1, (p, doc["windows"]["list"])


def test_signal_term_and_exit_with_20ms_cleanup():
    for cleanup, part in (("sleep", "blocked_ns"), ("busy", "running_ns")):
        # A busy cleanup assumes its CPU stays its own for the 20 ms; the
        # program's own CPU-time stamps check that (the sandbox agent
        # sometimes takes a CPU for milliseconds): such a run is repeated, at
        # most twice.
        for attempt in range(3):
            prog = subprocess.Popen([target("sigterm_cleanup"), "--cleanup", cleanup, "--cleanup-ms", "20"],
                                    stdout=subprocess.PIPE, text=True)
            ready = json.loads(prog.stdout.readline())
            tr = Tracer(["trace", "-p", str(ready["pid"]), "--cancel", "signal:TERM", "-f", "json"])
            prog.send_signal(signal.SIGTERM)
            lines = json_lines(prog.stdout.read())
            prog.wait()
            doc = tr.json()
            stamps = {l["event"]: l for l in lines}
            wall = stamps["exit"]["ts"] - stamps["sigterm"]["ts"]
            ran = stamps["exit"]["cpu_ns"] - stamps["sigterm"]["cpu_ns"]
            if cleanup == "sleep" or ran >= 0.9 * wall:
                break
            print("attempt %d: the busy cleanup ran %.1f of its %.1f ms; again" % (attempt + 1, ran / 1e6, wall / 1e6))
        else:
            pytest.fail("the busy cleanup never kept its CPU in 3 attempts")
        check_sum_invariant(doc)
        assert doc["windows"]["count"] == 1 and doc["windows"]["unfinished"] == 0, doc["windows"]
        w = doc["windows"]["list"][0]
        own = {l["event"]: l["ts"] for l in lines}
        print(cleanup, {p: w[p] for p in PARTS}, "own", own["exit"] - own["sigterm"])
        assert w["delay_ns"] >= 20_000_000
        # The signal is generated before the handler stamps; exit follows the
        # program's last stamp.
        assert w["start_ns"] <= own["sigterm"] and w["end_ns"] >= own["exit"]
        assert w["delay_ns"] - (own["exit"] - own["sigterm"]) < 5_000_000
        assert w[part] >= 0.5 * w["delay_ns"], (part, w)


def busy_windows(with_hog):
    hog = subprocess.Popen([target("cpuhog"), "--cpu", "1"]) if with_hog else None
    try:
        # The main thread stays on CPU 0, the worker on CPU 1.
        doc, lines = trace_json(["--", example("cancel_loop"), "--threads", "1", "--main-cpu", "0",
                                 "--rounds", "12", "--mode", "busy", "--cpu", "1", "--run-ms", "50"])
    finally:
        if hog:
            hog.terminate()
            hog.wait()
    match_windows(doc, lines, 12)
    totals = {p: sum(w[p] for w in doc["windows"]["list"]) for p in PARTS}
    holders = {}
    for w in doc["windows"]["list"]:
        for p in w["preempted_by"]:
            holders[p["comm"]] = holders.get(p["comm"], 0) + p["ns"]
            if hog and p["comm"] == "cpuhog":  # named by its process and thread
                assert p["pid"] == hog.pid and p["tid"] == hog.pid, p
    slowest = max(p["done"]["ts"] - p["cancel"]["ts"] for p in own_pairs(lines))
    return totals, holders, slowest


def test_cpu_hog_shows_up_as_runqueue_and_names_the_hog():
    hogged, holders_hogged, _ = busy_windows(True)
    # The run alone assumes nothing else takes CPU 1 while a cancel is
    # pending (the sandbox agent sometimes does, for milliseconds). The
    # program's own stamps check that independently of irqlat: alone, the
    # worker notices within ~0.1 ms; a run with a window over 1 ms is
    # repeated, at most twice.
    for attempt in range(3):
        alone, holders_alone, slowest = busy_windows(False)
        if slowest <= 1_000_000:
            break
        print("attempt %d: a window alone took %.2f ms by the program's own stamps; again"
              % (attempt + 1, slowest / 1e6))
    else:
        pytest.fail("CPU 1 was never free of other tasks for the run alone in 3 attempts")
    print("alone", alone, holders_alone)
    print("hogged", hogged, holders_hogged)
    assert max(hogged, key=hogged.get) == "runqueue_ns"
    assert max(holders_hogged, key=holders_hogged.get) == "cpuhog"
    # Alone, the windows hold ~0.1 ms of running time: one stray task on
    # CPU 1 could outweigh it, so the runqueue share is held against the
    # hogged run's instead of against running time.
    assert alone["runqueue_ns"] <= 0.1 * hogged["runqueue_ns"], (alone, hogged)
    assert "cpuhog" not in holders_alone


def irq_name(irq):
    """The action name /proc/interrupts shows for a device IRQ (last field)."""
    with open("/proc/interrupts") as f:
        for line in f:
            if line.split(":")[0].strip() == str(irq):
                return line.split()[-1]
    raise AssertionError("IRQ %d is not in /proc/interrupts" % irq)


def disk_window(irq, cpu, dd_cpu, tmp_path):
    """One SIGTERM -> exit window of a 300 ms busy cleanup pinned to cpu,
    while dd keeps the disk interrupting (dd itself on dd_cpu). Returns the
    window and irq's count per CPU over the window (/proc deltas).
    The busy cleanup assumes its CPU stays its own; the program's own CPU
    time checks that, and a run that broke it is repeated, at most twice."""
    for attempt in range(3):
        prog = subprocess.Popen(["taskset", "-c", str(cpu), target("sigterm_cleanup"), "--cleanup", "busy",
                                 "--cleanup-ms", "300"], stdout=subprocess.PIPE, text=True)
        ready = json.loads(prog.stdout.readline())
        tr = Tracer(["trace", "-p", str(ready["pid"]), "--cancel", "signal:TERM", "-f", "json"])
        path = tmp_path / ("dd-%d-%d" % (cpu, attempt))
        dd = subprocess.Popen(["taskset", "-c", str(dd_cpu), "dd", "if=/dev/zero", "of=%s" % path, "bs=4k",
                               "count=200000", "oflag=direct"], stderr=subprocess.DEVNULL)
        try:
            wait_for_irqs(irq, 200)
            before = read_interrupts()
            prog.send_signal(signal.SIGTERM)
            lines = json_lines(prog.stdout.read())
            prog.wait()
            after = read_interrupts()
        finally:
            dd.kill()
            dd.wait()
            path.unlink(missing_ok=True)
        doc = tr.json()
        stamps = {l["event"]: l for l in lines}
        wall = stamps["exit"]["ts"] - stamps["sigterm"]["ts"]
        ran = stamps["exit"]["cpu_ns"] - stamps["sigterm"]["cpu_ns"]
        if ran >= 0.8 * wall:
            break
        print("attempt %d: the busy cleanup ran %.1f of its %.1f ms; again" % (attempt + 1, ran / 1e6, wall / 1e6))
    else:
        pytest.fail("the busy cleanup never kept CPU %d in 3 attempts" % cpu)
    check_sum_invariant(doc)
    assert doc["windows"]["count"] == 1, doc["windows"]
    return doc["windows"]["list"][0], delta(before, after)[str(irq)]


def wait_for_irqs(irq, n, timeout=10):
    """Waits until irq has fired n more times (dd has started writing)."""
    start = sum(read_interrupts()[str(irq)])
    end = time.monotonic() + timeout
    while sum(read_interrupts()[str(irq)]) - start < n:
        assert time.monotonic() < end, "IRQ %d did not fire %d times in %d s" % (irq, n, timeout)
        time.sleep(0.01)


def test_disk_interrupts_show_up_in_a_window_only_on_the_target_cpu(tmp_path):
    """SPEC 7: an interrupt source on the target's CPU shows up in the
    window's breakdown, and does not when the target is moved away. The
    oracle for the interrupts is /proc/interrupts over the window."""
    irq = block_device_irq()
    irq_cpu = int(irq_cpus(irq).split(",")[0].split("-")[0])
    other = (irq_cpu + 1) % os.cpu_count()
    name = irq_name(irq)
    on, on_counts = disk_window(irq, irq_cpu, other, tmp_path)
    off, off_counts = disk_window(irq, other, irq_cpu, tmp_path)
    on_ns = sum(i["ns"] for i in on["irqs"] if i["name"] == name)
    off_ns = sum(i["ns"] for i in off["irqs"] if i["name"] == name)
    print("IRQ %d (%s) on CPU %d: target there: %d interrupts on its CPU, %d ns in the window "
          "(hardirq %d ns); target on CPU %d: %d interrupts on CPU %d, %d ns" % (
              irq, name, irq_cpu, on_counts[irq_cpu], on_ns, on["hardirq_ns"], other, off_counts[irq_cpu],
              irq_cpu, off_ns))
    # The premise, by /proc/interrupts: the disk interrupted its CPU
    # throughout both windows (~3,700 times here).
    assert on_counts[irq_cpu] >= 300 and off_counts[irq_cpu] >= 300
    # On the target's CPU every interrupt takes some of its time (~1.4 us
    # each here), and it is named in the breakdown.
    assert on_ns >= 100 * on_counts[irq_cpu]
    assert on["hardirq_ns"] >= on_ns
    # Moved away, the disk takes none of it.
    assert off_ns <= 0.02 * on_ns


def test_ignored_cancel_is_unfinished_not_missing():
    doc, lines = trace_json(["--window-timeout", "50ms", "--", example("cancel_loop"), "--threads", "1",
                             "--rounds", "1", "--ignore-cancel", "--run-ms", "100"])
    assert doc["windows"]["count"] == 0
    assert doc["windows"]["unfinished"] == 1
    (u,) = doc["windows"]["unfinished_list"]
    cancel = [l for l in lines if l["event"] == "cancel"][0]
    assert abs(u["start_ns"] - cancel["ts"]) < 1_000_000
