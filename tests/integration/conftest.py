"""Shared helpers for the integration tests.

These tests load the real BPF programs and trace real workloads, so they run
as root. Every measurement is checked against an independent oracle:
/proc/interrupts, /proc/softirqs, or the target's own CLOCK_MONOTONIC stamps.
"""
import json
import os
import signal
import subprocess
import tempfile
import threading
import time

import pytest

BUILD = os.environ.get("IRQLAT_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
IRQLAT = os.path.join(BUILD, "irqlat")


def target(name):
    return os.path.join(BUILD, "targets", name)


def example(name):
    return os.path.join(BUILD, name)


class Tracer:
    """irqlat running in the background; waits for its 'irqlat: tracing' line.
    on_start/on_stop run on the stderr reader thread the moment irqlat says it
    is tracing / has stopped, so oracle snapshots are taken as close as
    possible to the tool's own window."""

    def __init__(self, args, timeout=20, on_start=None, on_stop=None, env=None, binary=IRQLAT):
        self.args = [binary] + list(args)
        self._on_start = on_start
        self._on_stop = on_stop
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=dict(os.environ, **(env or {})))
        self.stderr_lines = []
        self._stopped = threading.Event()
        self._tracing = threading.Event()
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        # stdout is drained as it comes, so wait() can time out on the process
        # instead of blocking on a pipe read.
        self._stdout = []
        self._out_reader = threading.Thread(target=lambda: self._stdout.append(self.proc.stdout.read()),
                                            daemon=True)
        self._out_reader.start()
        # Until it says it is tracing, or exits (a start-up error), or times out.
        end = time.monotonic() + timeout
        while not self._tracing.wait(0.05):
            exited = self.proc.poll() is not None
            if exited:
                self._reader.join(5)  # it may have said so just before it exited
                if self._tracing.is_set():
                    break
            if exited or time.monotonic() > end:
                self.proc.kill()
                self.proc.wait()
                self._reader.join(5)
                raise AssertionError("irqlat did not start tracing: %s" % "".join(self.stderr_lines))

    def _read_stderr(self):
        for line in self.proc.stderr:
            if line.startswith("irqlat: stopped tracing") and self._on_stop:
                self._on_stop()
            if line.startswith("irqlat: tracing") and self._on_start:
                self._on_start()
            self.stderr_lines.append(line)
            if line.startswith("irqlat: tracing"):
                self._tracing.set()
            if line.startswith("irqlat: stopped tracing"):
                self._stopped.set()

    def stop(self, sig=signal.SIGINT):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout=60):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("irqlat did not exit within %d s: %s" % (timeout, "".join(self.stderr_lines)))
        # A child of irqlat's that outlives it keeps the pipe open.
        self._out_reader.join(timeout)
        if self._out_reader.is_alive():
            raise AssertionError("irqlat's standard output is still open %d s after it exited" % timeout)
        self._reader.join(5)
        self.stdout = "".join(self._stdout)
        return self.proc.returncode

    def json(self, timeout=60):
        rc = self.wait(timeout)
        assert rc == 0, "irqlat exited %d: %s" % (rc, "".join(self.stderr_lines))
        return json.loads(self.stdout)


_OUT_DIR = tempfile.mkdtemp(prefix="irqlat-tests-")


def out_path(name):
    """A fresh output file (never shared with another test run going on at
    the same time on this machine)."""
    fd, path = tempfile.mkstemp(prefix=name + "-", suffix=".json", dir=_OUT_DIR)
    os.close(fd)
    return path


def run_irqlat(args, timeout=60, **kw):
    return subprocess.run([IRQLAT] + list(args), capture_output=True, text=True, timeout=timeout, **kw)


def read_interrupts():
    """{label: [per-cpu counts]} from /proc/interrupts; label is the IRQ
    number for device lines and LOC/RES/CAL/... for the rest."""
    rows = {}
    with open("/proc/interrupts") as f:
        ncpu = len(f.readline().split())
        for line in f:
            parts = line.split()
            if not parts:
                continue
            label = parts[0].rstrip(":")
            counts = []
            for p in parts[1:1 + ncpu]:
                if not p.isdigit():
                    break
                counts.append(int(p))
            if len(counts) == ncpu:
                rows[label] = counts
    return rows


def read_softirqs():
    rows = {}
    with open("/proc/softirqs") as f:
        f.readline()
        for line in f:
            parts = line.split()
            rows[parts[0].rstrip(":")] = [int(x) for x in parts[1:]]
    return rows


def delta(before, after):
    return {k: [a - b for a, b in zip(after[k], before[k])] for k in after if k in before}


def within(tool, oracle, rel=0.01, absolute=3):
    return abs(tool - oracle) <= max(rel * oracle, absolute)


def irq_cpus(irq):
    with open("/proc/irq/%d/effective_affinity_list" % irq) as f:
        return f.read().strip()


def block_device_irq():
    """(irq, cpu) of the virtio block request queue: the line whose count
    grows most while we write with O_DIRECT."""
    before = read_interrupts()
    direct_write(2000)
    after = read_interrupts()
    d = delta(before, after)
    best = max((k for k in d if k.isdigit()), key=lambda k: sum(d[k]))
    return int(best)


def direct_write(blocks, cpu=None):
    """O_DIRECT writes to a file of its own on the virtio disk: one block
    interrupt per 4 KiB write. With cpu, dd runs pinned there."""
    fd, path = tempfile.mkstemp(prefix="irqlat-test-dd-", dir="/var/tmp")
    os.close(fd)
    pin = [] if cpu is None else ["taskset", "-c", str(cpu)]
    try:
        subprocess.run(pin + ["dd", "if=/dev/zero", "of=" + path, "bs=4k", "count=%d" % blocks, "oflag=direct"],
                       check=True, capture_output=True)
    finally:
        os.unlink(path)


def free_pid():
    """A PID no process has now (counting down from 4,000,000)."""
    pid = 4_000_000
    while os.path.exists("/proc/%d" % pid):
        pid -= 1
    return pid


def wait_for(pred, timeout=10, what="condition"):
    """Polls pred() until it holds: the tests' way to wait for the tool
    instead of sleeping a guessed time."""
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "timed out after %g s waiting for %s" % (timeout, what)
        time.sleep(0.05)


def json_lines(text):
    return [json.loads(l) for l in text.splitlines() if l.strip().startswith("{")]


@pytest.fixture(scope="session", autouse=True)
def require_root():
    if os.geteuid() != 0:
        pytest.skip("integration tests need root")
    if not os.path.exists(IRQLAT):
        pytest.fail("irqlat is not built: " + IRQLAT)


def check_spec_json(doc):
    """Every key and type SPEC section 6 requires (extra keys are allowed)."""
    def has(obj, key, *types):
        assert key in obj, ("missing key", key, sorted(obj))
        assert isinstance(obj[key], types) and not isinstance(obj[key], bool), (key, obj[key])
    ints = (int,)
    assert doc["version"] == 1
    for k in ("cpus", "start_ns", "end_ns"):
        assert isinstance(doc[k], int) and not isinstance(doc[k], bool), k
    assert isinstance(doc["kernel"], str)
    for k in ("received", "dropped"):
        assert isinstance(doc["events"][k], int), k
    for row in doc["hardirqs"]:
        assert row["irq"] is None or isinstance(row["irq"], int)
        assert row["cpu"] is None or isinstance(row["cpu"], int)
        assert isinstance(row["name"], str)
        for k in ("count", "total_ns", "p50_ns", "p99_ns", "max_ns", "target_hits", "target_stolen_ns"):
            has(row, k, *ints)
    for row in doc["softirqs"]:
        assert isinstance(row["vector"], str)
        assert row["cpu"] is None or isinstance(row["cpu"], int)
        for k in ("count", "total_ns", "p50_ns", "p99_ns", "max_ns", "target_stolen_ns"):
            has(row, k, *ints)
    for row in doc["threads"]:
        assert isinstance(row["comm"], str)
        for k in ("pid", "tid", "wakeups", "sched_p50_ns", "sched_p99_ns", "sched_max_ns", "oncpu_ns",
                  "runqueue_ns", "hardirq_ns", "softirq_ns"):
            has(row, k, *ints)
    w = doc["windows"]
    for k in ("count", "unfinished", "p50_ns", "p90_ns", "p99_ns", "max_ns"):
        has(w, k, *ints)
    for s in w["list"]:
        for k in ("pid", "tid", "start_ns", "end_ns", "delay_ns", "running_ns", "runqueue_ns", "hardirq_ns",
                  "softirq_ns", "blocked_ns"):
            has(s, k, *ints)
        for i in s["irqs"]:
            assert isinstance(i["name"], str) and isinstance(i["ns"], int)
        for v in s["softirq_vectors"]:
            assert isinstance(v["vector"], str) and isinstance(v["ns"], int)
        for p in s["preempted_by"]:
            assert isinstance(p["comm"], str) and isinstance(p["pid"], int) and isinstance(p["ns"], int)
    starts = [s["start_ns"] for s in w["list"]]
    assert starts == sorted(starts)
