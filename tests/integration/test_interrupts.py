"""Interrupt tables against /proc/interrupts and /proc/softirqs deltas over
the same interval (SPEC section 7), while real device interrupts (virtio
block, O_DIRECT writes), timer ticks, IPIs and NET_RX softirqs are driven."""
import collections
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import (Tracer, block_device_irq, delta, direct_write, irq_cpus, read_interrupts,
                      read_softirqs, target, wait_for, within)


def udp_blast(seconds):
    """Loopback UDP traffic: NET_RX softirqs."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.setblocking(False)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(100):
            tx.sendto(b"x" * 64, rx.getsockname())
        try:
            while True:
                rx.recv(128)
        except BlockingIOError:
            pass
    rx.close()
    tx.close()


@pytest.fixture(scope="module", params=["tp_btf", "raw_tp"])
def traced_run(request):
    """One ~4 s trace with disk, network and IPI load. The oracle's counters
    are read the moment irqlat says it is tracing, and just before we stop
    it with SIGINT (it stops counting on the signal, before it detaches:
    detaching sends IPIs of its own). Run once with tp_btf programs and once
    with the raw_tp fallback forced."""
    irq = block_device_irq()
    sleeper = subprocess.Popen(["sleep", "60"])
    # Outer snapshots bracket irqlat's whole run: no count may exceed them.
    snaps = {"o0": read_interrupts(), "so0": read_softirqs()}
    env = {"IRQLAT_FORCE_RAW_TP": "1"} if request.param == "raw_tp" else {}
    tr = Tracer(["trace", "-v", "-p", str(sleeper.pid), "-f", "json"], env=env,
                on_start=lambda: snaps.update(i0=read_interrupts(), s0=read_softirqs()))
    time.sleep(0.3)
    net = threading.Thread(target=udp_blast, args=(2.0,))
    net.start()
    direct_write(6000)
    # Cross-CPU wakeups: IPIs (RES/CAL).
    subprocess.run(["taskset", "-c", "0", "sh", "-c", "for i in $(seq 200); do taskset -c 1 true; done"],
                   check=True)
    net.join()
    time.sleep(0.3)
    snaps.update(i1=read_interrupts(), s1=read_softirqs())
    tr.stop(signal.SIGINT)
    doc = tr.json()
    snaps.update(o1=read_interrupts(), so1=read_softirqs())
    assert any("(%s)" % request.param in l for l in tr.stderr_lines), tr.stderr_lines
    sleeper.kill()
    sleeper.wait()
    return {"doc": doc, "irq": irq, "dirq": delta(snaps["i0"], snaps["i1"]),
            "dsoft": delta(snaps["s0"], snaps["s1"]),
            "dirq_outer": delta(snaps["o0"], snaps["o1"]),
            "dsoft_outer": delta(snaps["so0"], snaps["so1"])}


def rows(doc, section, key, value):
    return {r["cpu"]: r for r in doc[section] if r[key] == value}


def within_tick_edge(tool, inner, outer):
    """Per-CPU counts of what the timer tick drives (the LOC vector and the
    TIMER, SCHED and RCU softirqs it raises, ~50-250/s on a quiet CPU) come
    out a few short of /proc on the CPU that reads it, with no unmatched or
    missed events: CI runs saw RCU 193 vs 197 and LOC 452 vs 457, local runs
    LOC -3 to +1. bpftrace bracketed the same way (counting only between two
    marker execs, /proc read just inside them) misses the same way: softirqs
    1 short on that CPU, and in 13 runs of local_timer_entry LOC -2 to +2
    per CPU, softirqs -2 to +2 (tests/oracle/tick_edge.py). An edge of this
    oracle, not of irqlat, and it widens with load: up to 10 (or 2%) short
    of the inner snapshots, and never more than the outer ones (irqlat's
    whole run) hold.
    Totals are still held to 1% past it."""
    return inner - max(0.02 * inner, 10) <= tool <= outer


def report(name, tool, oracle):
    print("%-10s tool=%-8d /proc=%-8d diff=%d" % (name, tool, oracle, tool - oracle))


def test_device_irq_counts_match_proc_interrupts(traced_run):
    doc, irq, d = traced_run["doc"], traced_run["irq"], traced_run["dirq"]
    assert doc["events"]["dropped"] == 0
    oracle = d[str(irq)]
    assert sum(oracle) > 1000, "the disk workload drove too few interrupts: %s" % oracle
    r = rows(doc, "hardirqs", "irq", irq)
    report("irq%d" % irq, r[None]["count"], sum(oracle))
    assert within(r[None]["count"], sum(oracle))
    for cpu, n in enumerate(oracle):
        got = r[cpu]["count"] if cpu in r else 0
        assert within(got, n), (cpu, got, n)
    # Net time: a total, percentiles in order, all non-zero.
    t = r[None]
    assert 0 < t["p50_ns"] <= t["p99_ns"] <= t["max_ns"] <= t["total_ns"]


@pytest.mark.parametrize("label", ["LOC", "RES", "CAL"])
def test_vector_counts_match_proc_interrupts(traced_run, label):
    doc, d, outer = traced_run["doc"], traced_run["dirq"], traced_run["dirq_outer"]
    # CAL is call_function + call_function_single; /proc/interrupts' TLB row
    # is a subset of those IPIs (counted again, not separately delivered).
    oracle = list(d[label])
    r = rows(doc, "hardirqs", "name", label)
    got = r[None]["count"] if None in r else 0
    report(label, got, sum(oracle))
    print("per-cpu", label, [(r[c]["count"] if c in r else 0) for c in range(len(oracle))], oracle)
    if label == "RES":
        # On this kernel /proc's RES row also counts reschedule IPIs for
        # which irq_vectors:reschedule_entry never fires: bpftrace counting
        # that tracepoint alone, over a wider window, sees the same deficit
        # (34 vs 49 on CPU 0 in one run). So RES may only be short, never
        # over: every IPI the tool counts is one /proc counts.
        for cpu, n in enumerate(oracle):
            c = r[cpu]["count"] if cpu in r else 0
            assert c <= n + 3, (label, cpu, c, n)
        assert got >= 0.5 * sum(oracle)
        return
    assert within(got, sum(oracle))
    for cpu, n in enumerate(oracle):
        c = r[cpu]["count"] if cpu in r else 0
        ok = within_tick_edge(c, n, outer[label][cpu]) if label == "LOC" else within(c, n)
        assert ok, (label, cpu, c, n, outer[label][cpu])
    if label == "LOC":
        assert sum(oracle) > 100
    if label == "CAL":
        assert sum(oracle) > 100, "the cross-CPU wakeups drove too few IPIs"


def test_softirq_counts_match_proc_softirqs(traced_run):
    doc, d, outer = traced_run["doc"], traced_run["dsoft"], traced_run["dsoft_outer"]
    assert sum(d["NET_RX"]) > 100, "loopback traffic drove too few NET_RX softirqs"
    checked = 0
    for vec, per_cpu in d.items():
        r = rows(doc, "softirqs", "vector", vec)
        got = r[None]["count"] if None in r else 0
        report(vec, got, sum(per_cpu))
        # The tick edge (below) adds up over the CPUs.
        total, total_outer = sum(per_cpu), sum(outer[vec])
        assert total - max(0.01 * total, 10 * len(per_cpu)) <= got <= total_outer, (vec, got, total, total_outer)
        for cpu, n in enumerate(per_cpu):
            c = r[cpu]["count"] if cpu in r else 0
            assert within_tick_edge(c, n, outer[vec][cpu]), (vec, cpu, c, n, outer[vec][cpu])
        checked += 1
    assert checked == 10


@pytest.mark.parametrize("mode", ["trace", "record"])
def test_device_irq_charged_to_a_target_only_on_its_cpu(mode, tmp_path):
    """A CPU hog placed on the disk interrupt's CPU loses time to that IRQ
    (target hits, stolen time, the thread's hardirq time); moved to the
    other CPU it loses none to it. `trace` accounts the hog in the kernel,
    `record` streams it: both must show it."""
    irq = block_device_irq()
    irq_cpu = int(irq_cpus(irq).split(",")[0].split("-")[0])
    other = (irq_cpu + 1) % os.cpu_count()

    def run(cpu):
        # The premise is that the hog holds its CPU while the disk interrupts
        # arrive. The kernel's own schedstat of the hog (time on a CPU, time
        # waiting on a runqueue) checks that independently of irqlat: on this
        # VM the sandbox agent (nice -10) sometimes takes a CPU for 360 ms, and
        # the interrupts then rightly hit it, not the hog. Such a run is
        # repeated, at most twice. dd runs on the other CPU: woken onto the
        # hog's CPU it can be interrupted there by its own fast completion,
        # which rightly hits dd (a CI run saw 1082 of 3004 hit the hog so).
        dd_cpu = (cpu + 1) % os.cpu_count()
        for attempt in range(3):
            path = tmp_path / ("cpu%d-%d.rec" % (cpu, attempt))
            args = [mode, "-f", "json"] + (["-o", str(path)] if mode == "record" else [])
            # The hog runs until we stop it (60 s at most), so the trace
            # outlasts the burst.
            tr = Tracer(args + ["--", target("cpuhog"), "--cpu", str(cpu), "--seconds", "60"])
            hog_pid = None
            try:
                # It starts unpinned (exec, loader) and then pins itself.
                wait_for(lambda: pinned_to(child_named(tr.proc.pid, "cpuhog"), cpu), what="the hog pinned")
                hog_pid = child_named(tr.proc.pid, "cpuhog")
                before, lost0, t0 = schedstat_ns(hog_pid), not_task_ns(cpu), time.monotonic()
                direct_write(3000, cpu=dd_cpu)
                after = schedstat_ns(hog_pid)
                # Time the CPU spent on interrupts or the hypervisor gave to
                # others is missing from the hog's run time, though it stayed
                # the task the interrupts find there.
                burst_ns = (time.monotonic() - t0) * 1e9 - (not_task_ns(cpu) - lost0)
            finally:
                # irqlat stops when its command exits, and never kills it:
                # the hog must not outlive the test on its CPU.
                hog = hog_pid or (child_named(tr.proc.pid, "cpuhog") if tr.proc.poll() is None else None)
                try:
                    if hog:
                        os.kill(hog, signal.SIGTERM)
                except ProcessLookupError:
                    pass  # gone already (irqlat then stops by itself)
                if not hog:
                    tr.stop()
            doc = tr.json()
            if before is not None and after is not None:
                ran, waited = after[0] - before[0], after[1] - before[1]
                if ran >= 0.9 * burst_ns and waited <= 0.1 * burst_ns:
                    break
                why = "ran %.0f ms and waited %.0f ms" % (ran / 1e6, waited / 1e6)
            else:
                why = "was gone"
            print("attempt %d on CPU %d: the hog %s of the %.0f ms burst; again" % (
                attempt + 1, cpu, why, burst_ns / 1e6))
        else:
            pytest.fail("the hog never held CPU %d through the disk burst in 3 attempts" % cpu)
        row = next(h for h in doc["hardirqs"] if h["irq"] == irq and h["cpu"] is None)
        hog = next(t for t in doc["threads"] if t["comm"] == "cpuhog")
        return row, hog

    on_row, on_hog = run(irq_cpu)
    off_row, off_hog = run(other)
    print("%s: irq %d on CPU %d: hog there: %d hits, %d ns stolen, thread hardirq %d ns; "
          "hog on CPU %d: %d hits, thread hardirq %d ns" % (
              mode, irq, irq_cpu, on_row["target_hits"], on_row["target_stolen_ns"], on_hog["hardirq_ns"],
              other, off_row["target_hits"], off_hog["hardirq_ns"]))
    assert on_row["count"] > 1000 and off_row["count"] > 1000
    assert on_row["target_hits"] > 0.5 * on_row["count"]
    assert 0 < on_row["target_stolen_ns"] <= on_row["total_ns"]
    assert on_hog["hardirq_ns"] >= on_row["target_stolen_ns"]
    # Away from the IRQ's CPU it is (nearly) never hit: the hog is exec'd
    # after the tracing line and may still run unpinned for a moment.
    assert off_row["target_hits"] <= 0.02 * on_row["target_hits"]
    assert off_row["target_stolen_ns"] <= 0.02 * on_row["target_stolen_ns"]


def json_docs(text):
    """The JSON documents printed one after another on stdout."""
    dec, docs, i = json.JSONDecoder(), [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return docs
        doc, i = dec.raw_decode(text, i)
        docs.append(doc)


def test_interval_tables_are_contiguous_and_the_final_covers_the_run(tmp_path):
    """`trace -i`: each interval table starts where the previous one ended,
    and the final tables cover the whole run (as without -i), against
    /proc/interrupts read the moment irqlat starts and stops counting; the
    interval tables add up to what the final one holds for their span."""
    irq = block_device_irq()
    # Inner snapshots: when irqlat says it traces, and before we stop it;
    # outer ones bracket its whole run (as in traced_run).
    snaps = {"o0": read_interrupts()}
    tr = Tracer(["trace", "-a", "-i", "1s", "-f", "json"], on_start=lambda: snaps.update(i0=read_interrupts()))
    # On the virtio disk, as direct_write() does (/tmp may be a tmpfs, where
    # O_DIRECT fails): the same 8 MB rewritten until the test stops it.
    fd, path = tempfile.mkstemp(prefix="irqlat-test-dd-", dir="/var/tmp")
    os.close(fd)
    dd = subprocess.Popen(["sh", "-c", "while :; do dd if=/dev/zero of=%s bs=4k count=2000 oflag=direct "
                           "conv=notrunc 2>/dev/null || exit 1; done" % path], start_new_session=True)
    try:
        time.sleep(3.5)
        snaps.update(i1=read_interrupts())
        tr.stop(signal.SIGINT)
        rc = tr.wait(60)
        snaps.update(o1=read_interrupts())
    finally:
        os.killpg(dd.pid, signal.SIGKILL)
        dd.wait()
        os.unlink(path)
    assert rc == 0, "".join(tr.stderr_lines)
    docs = json_docs(tr.stdout)
    flags = [d["interval"] for d in docs]
    assert len(docs) >= 3 and all(flags[:-1]) and not flags[-1], flags
    intervals, final = docs[:-1], docs[-1]
    for a, b in zip(intervals, intervals[1:]):
        assert b["start_ns"] == a["end_ns"]
    assert final["start_ns"] == intervals[0]["start_ns"] and final["end_ns"] > intervals[-1]["end_ns"]

    def count(doc):
        return sum(h["count"] for h in doc["hardirqs"] if h["irq"] == irq and h["cpu"] is None)
    per_interval = [count(d) for d in intervals]
    inner = sum(delta(snaps["i0"], snaps["i1"])[str(irq)])
    outer = sum(delta(snaps["o0"], snaps["o1"])[str(irq)])
    print("IRQ %d: intervals %s, final %d, /proc over the run %d (outer %d)" % (
        irq, per_interval, count(final), inner, outer))
    assert min(per_interval) > 500  # the disk interrupted all along
    # The whole run, not its last half second: /proc's count between the
    # inner snapshots (irqlat counted a little longer), at most the outer.
    assert 0.99 * inner <= count(final) <= outer
    # The final holds every interval table and the last, partial interval.
    assert sum(per_interval) <= count(final)
    # irqlat's own reading of /proc/interrupts agrees with ours: its reads
    # lie inside its counting span, which lies inside our outer snapshots.
    def proc(doc):
        return [h["proc_count"] for h in doc["hardirqs"] if h["irq"] == irq and h["cpu"] is None][0]
    print("IRQ %d: irqlat's /proc counts: intervals %s, final %d; unseen %s" % (
        irq, [proc(d) for d in intervals], proc(final), [d["events"]["irq_unseen"] for d in docs]))
    assert 0.99 * inner <= proc(final) <= outer
    # Each interval's /proc count lies within what our snapshots saw of the
    # disk in that interval's wall time: at most the whole run's.
    assert all(0.99 * c <= proc(d) <= outer for c, d in zip(per_interval, intervals)), per_interval
    for d in docs:
        # Device rows only, and irq_unseen holds every row's shortfall
        # beyond the one interrupt that may be in its handler.
        assert all((h["proc_count"] is None) == (h["irq"] is None) for h in d["hardirqs"]), d["hardirqs"]
        short = sum(max(0, h["proc_count"] - h["count"] - 1) for h in d["hardirqs"]
                    if h["irq"] is not None and h["cpu"] is not None)
        assert d["events"]["irq_unseen"] >= short, (short, d["events"])
    # What the tracepoints missed of the disk is the small gap SPEC 7's 1%
    # allows (docs/measurement.md "Losses").
    assert final["events"]["irq_unseen"] <= 0.01 * proc(final) + 10, final["events"]
    # Thread time adds up the same way: each thread's on-CPU time in the
    # final table is its intervals' sum plus its time in the partial one.
    parts, whole = collections.Counter(), collections.Counter()
    for d in intervals:
        for t in d["threads"]:
            parts[(t["pid"], t["tid"])] += t["oncpu_ns"]
    for t in final["threads"]:
        whole[(t["pid"], t["tid"])] += t["oncpu_ns"]
    assert sum(1 for k in parts if parts[k] > 0 and k[0] != 0) > 10, parts
    assert all(parts[k] <= whole[k] for k in parts), [(k, parts[k], whole[k]) for k in parts if parts[k] > whole[k]]


def child_named(pid, comm):
    """The pid of pid's child process named comm (or None)."""
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            continue
        for k in kids:
            try:
                with open("/proc/%d/comm" % k) as f:
                    if f.read().strip() == comm:
                        return k
            except OSError:
                pass
    return None


def pinned_to(pid, cpu):
    """True once pid's affinity is CPU cpu alone (/proc/PID/status)."""
    if pid is None:
        return False
    try:
        with open("/proc/%d/status" % pid) as f:
            return any(l.split(":")[1].strip() == str(cpu) for l in f if l.startswith("Cpus_allowed_list:"))
    except OSError:
        return False


def not_task_ns(cpu):
    """Time this CPU spent in hardirq and softirq (counted apart from tasks
    with CONFIG_IRQ_TIME_ACCOUNTING, else 0) or that the hypervisor ran
    something else on it (steal): /proc/stat's cpuN irq, softirq and steal
    values, in clock ticks."""
    with open("/proc/stat") as f:
        for line in f:
            fields = line.split()
            if fields[0] == "cpu%d" % cpu:
                return sum(int(v) for v in fields[6:9]) * 1e9 / os.sysconf("SC_CLK_TCK")
    raise AssertionError("no cpu%d line in /proc/stat" % cpu)


def schedstat_ns(pid):
    """The kernel's count of the time pid ran on a CPU and waited on a
    runqueue (/proc/PID/schedstat, first two fields), or None once it is gone."""
    if pid is None:
        return None
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            fields = f.read().split()
        return int(fields[0]), int(fields[1])
    except (OSError, IndexError, ValueError):
        return None


def attached_programs(pid):
    """Names of the BPF programs behind the process's link fds (its own
    /proc/PID/fdinfo, so another tracer on the machine does not count)."""
    ids = set()
    fdinfo = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(fdinfo):
        try:
            with open(os.path.join(fdinfo, fd)) as f:
                text = f.read()
        except OSError:
            continue
        if "link_id:" in text:
            for line in text.splitlines():
                if line.startswith("prog_id:"):
                    ids.add(int(line.split()[1]))
    progs = json.loads(subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True,
                                      text=True, check=True).stdout)
    return {p.get("name", "") for p in progs if p["id"] in ids}


def bump_vector(text, label, add):
    """/proc/interrupts text with `add` more counts on CPU0 of row `label`."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] == label + ":":
            n = int(parts[1]) + add
            line = line.replace(parts[1], str(n).rjust(len(parts[1])), 1)
        out.append(line)
    return "\n".join(out) + "\n"


def test_rare_vector_attached_when_it_first_fires(tmp_path):
    """Thermal/error/spurious vectors are attached only once /proc/interrupts
    shows them firing; the interrupts before that are reported as untimed.
    A thermal interrupt cannot be raised on demand, so the /proc/interrupts
    the tool reads is a copy whose TRM row the test raises."""
    with open("/proc/interrupts") as f:
        real = f.read()
    if not any(l.split()[:1] == ["TRM:"] for l in real.splitlines()):
        real += "TRM:          0          0   Thermal event interrupts\n"
    fake = tmp_path / "interrupts"
    fake.write_text(real)
    tr = Tracer(["trace", "-a", "-v", "-f", "json"], env={"IRQLAT_PROC_INTERRUPTS": str(fake)})
    try:
        time.sleep(0.6)
        before = attached_programs(tr.proc.pid)
        assert "tp_btf_sched_switch" in before or "raw_tp_sched_switch" in before, before
        assert not any("thermal_apic" in p for p in before), before
        assert not any("spurious_apic" in p for p in before), before
        fake.write_text(bump_vector(real, "TRM", 7))
        deadline = time.time() + 5
        after = before
        while time.time() < deadline:
            after = attached_programs(tr.proc.pid)
            if any("thermal_apic" in p for p in after):
                break
            time.sleep(0.1)
        assert {"thermal_apic_entry", "thermal_apic_exit"} <= {p.split("_", 2)[-1] for p in after}, after
        # The others are still not attached.
        assert not any("spurious_apic" in p for p in after), after
    finally:
        tr.stop()
    rep = tr.json()
    assert rep["untimed_vectors"] == [{"name": "TRM", "count": 7}], rep["untimed_vectors"]
    assert any("TRM fired" in l for l in tr.stderr_lines), tr.stderr_lines


def programs_while_tracing(args):
    """Program names attached by `irqlat trace ARGS` once it is tracing."""
    tr = Tracer(["trace", "-f", "json"] + args)
    try:
        time.sleep(0.3)
        names = attached_programs(tr.proc.pid)
    finally:
        tr.stop()
    tr.json()
    return names


def test_unneeded_tracepoints_are_not_attached():
    """Without windows nothing needs signals; with a signal window they are
    attached (the window rules read them). Exec always is: a thread that
    execs may change its tid, which targets and accounts must follow."""
    names = programs_while_tracing(["-a"])
    assert not any("signal_generate" in p for p in names), names
    assert any("sched_process_exit" in p for p in names), names
    assert any("sched_process_exec" in p for p in names), names
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        names = programs_while_tracing(["-p", str(sleeper.pid), "--cancel", "signal:TERM", "--done", "exit"])
    finally:
        sleeper.kill()
        sleeper.wait()
    assert any("signal_generate" in p for p in names), names
    assert any("sched_process_exec" in p for p in names), names
