"""Interrupt tables against /proc/interrupts and /proc/softirqs deltas over
the same interval (SPEC section 7), while real device interrupts (virtio
block, O_DIRECT writes), timer ticks, IPIs and NET_RX softirqs are driven."""
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import (Tracer, block_device_irq, delta, direct_write, irq_cpus, read_interrupts,
                      read_softirqs, target, within)


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
    snaps = {}
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
    assert any("(%s)" % request.param in l for l in tr.stderr_lines), tr.stderr_lines
    sleeper.kill()
    sleeper.wait()
    return {"doc": doc, "irq": irq, "dirq": delta(snaps["i0"], snaps["i1"]),
            "dsoft": delta(snaps["s0"], snaps["s1"])}


def rows(doc, section, key, value):
    return {r["cpu"]: r for r in doc[section] if r[key] == value}


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
    doc, d = traced_run["doc"], traced_run["dirq"]
    # CAL is call_function + call_function_single; /proc/interrupts' TLB row
    # is a subset of those IPIs (counted again, not separately delivered).
    oracle = list(d[label])
    r = rows(doc, "hardirqs", "name", label)
    got = r[None]["count"] if None in r else 0
    report(label, got, sum(oracle))
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
        assert within(c, n), (label, cpu, c, n)
    if label == "LOC":
        assert sum(oracle) > 100
    if label == "CAL":
        assert sum(oracle) > 100, "the cross-CPU wakeups drove too few IPIs"


def test_softirq_counts_match_proc_softirqs(traced_run):
    doc, d = traced_run["doc"], traced_run["dsoft"]
    assert sum(d["NET_RX"]) > 100, "loopback traffic drove too few NET_RX softirqs"
    checked = 0
    for vec, per_cpu in d.items():
        r = rows(doc, "softirqs", "vector", vec)
        got = r[None]["count"] if None in r else 0
        report(vec, got, sum(per_cpu))
        assert within(got, sum(per_cpu)), vec
        for cpu, n in enumerate(per_cpu):
            c = r[cpu]["count"] if cpu in r else 0
            assert within(c, n), (vec, cpu, c, n)
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
        args = [mode, "-f", "json"] + (["-o", str(tmp_path / "r.rec")] if mode == "record" else [])
        tr = Tracer(args + ["--", target("cpuhog"), "--cpu", str(cpu), "--seconds", "2"])
        time.sleep(0.3)  # the hog starts unpinned (exec, loader) before it pins itself
        direct_write(3000)
        doc = tr.json()
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
