#!/usr/bin/python3
"""irqlat performance suite: `make bench` (bench/run.sh BUILD_DIR).

Every figure is set against a baseline measured in the same run, A and B
alternating (the order rotates each round), and printed as min/median/max.
Sections (bench/README.md has the details):

  1. in-kernel cost: ns/event of each irqlat program vs the empty floor
     programs (bench/floor.bpf.c) on the same tracepoints, under the workload
     mix; kernel BPF statistics (kernel.bpf_stats_enabled=1).
  2. target slowdown: pinned `perf bench sched pipe` untraced vs floor vs
     `irqlat trace -- ...` vs a bpftrace runqlat script.
  3. collector throughput: `irqlat report` on >= 5M-event recordings (a real
     `record -a` of the mix and a synthetic worst case) vs decompression alone.
  4. live rate: `irqlat trace -a` of the mix: events/s, drops, RSS.
  5. scale: 1,000-thread token ring traced with -p: RSS, events/s, slowdown.
  6. self stop time: SIGTERM -> exit of `irqlat trace -a` under the mix.

Environment: BENCH_QUICK=1 (smoke run), BENCH_ROUNDS, BENCH_COST_SECONDS,
BENCH_PIPE_LOOPS, BENCH_PIPE_ROUNDS, BENCH_LIVE_SECONDS, BENCH_RING_SECONDS, BENCH_STOP_REPS,
BENCH_REPORT_EVENTS, BENCH_UDP_PPS, BENCH_SECTIONS (e.g. "1,2"),
BENCH_OUT (default bench/results/latest.md).
Standard library only. Must run as root.
"""

import datetime
import json
import os
import platform
import queue
import random
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")


def env_num(name, full, quick, kind=int):
    v = os.environ.get(name)
    return kind(v) if v else (quick if QUICK else full)


ROUNDS = env_num("BENCH_ROUNDS", 10, 3)
COST_SECONDS = env_num("BENCH_COST_SECONDS", 3.0, 1.0, float)
PIPE_LOOPS = env_num("BENCH_PIPE_LOOPS", 200000, 50000)
# Section 2 pairs runs seconds apart, and the host's speed moves between
# them by more than the 10% being judged: 20 pairs (as SPEC 9 measured).
PIPE_ROUNDS = env_num("BENCH_PIPE_ROUNDS", 20, 3)
LIVE_SECONDS = env_num("BENCH_LIVE_SECONDS", 30, 8)
RING_SECONDS = env_num("BENCH_RING_SECONDS", 3.0, 1.0, float)
RING_THREADS = env_num("BENCH_RING_THREADS", 1000, 1000)
RING_TOKENS = env_num("BENCH_RING_TOKENS", 2, 2)
STOP_REPS = env_num("BENCH_STOP_REPS", 20, 4)
REPORT_EVENTS = env_num("BENCH_REPORT_EVENTS", 5_000_000, 5_000_000)
UDP_PPS = env_num("BENCH_UDP_PPS", 20000, 20000)
DD_COUNT = env_num("BENCH_DD_COUNT", 1000, 1000)
SETTLE_SECONDS = 0.5  # after a tracer is attached, before a window opens
SECTIONS = {int(s) for s in os.environ.get("BENCH_SECTIONS", "1,2,3,4,5,6").split(",") if s.strip()}
OUT = os.environ.get("BENCH_OUT", os.path.join(HERE, "results", "latest.md"))
RAW_OUT = os.path.join(BUILD, "bench", "latest.json")  # every sample, for a closer look

IRQLAT = os.path.join(BUILD, "irqlat")
FLOOR = os.path.join(BUILD, "bench", "floor_loader")
UDP_BLAST = os.path.join(BUILD, "bench", "udp_blast")
THREAD_RING = os.path.join(BUILD, "bench", "thread_ring")
STOP_TIME = os.path.join(BUILD, "bench", "stop_time")
GEN_RECORDING = os.path.join(BUILD, "bench", "gen_recording")
DECOMPRESS_ONLY = os.path.join(BUILD, "bench", "decompress_only")
BUCKET_COST = os.path.join(BUILD, "bench", "bucket_cost")
RUNQLAT_BT = os.path.join(HERE, "runqlat.bt")
STOP_PROFILE_BT = os.path.join(HERE, "stop_profile.bt")
TASKSET = shutil.which("taskset") or "/usr/bin/taskset"

IRQLAT_READY = "irqlat: tracing"
FLOOR_READY = "floor: tracing"
# Interrupt programs aggregate every interrupt into the system-wide tables
# whoever is running; "events that do not concern a target" are task events.
TASK_TPS_PREFIX = ("sched_", "signal_")

TARGETS = {
    "cost_mix": 2.0,
    "cost_nontarget": 1.3,
    "slowdown": 1.10,
    "collector_eps": 20e6,
    "ring_rss_mib": 64.0,
    "stop_ms": 10.0,
}


class BenchError(Exception):
    pass


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------ processes

_children = []  # every Popen we started; killed (by pid/pgid) on the way out


def spawn(argv, **kw):
    kw.setdefault("stdin", subprocess.DEVNULL)
    kw.setdefault("start_new_session", True)
    p = subprocess.Popen(argv, **kw)
    _children.append(p)
    return p


def kill_tree(p, sig=signal.SIGTERM, timeout=10.0):
    """Signals p's process group (spawn() made p its leader) and reaps p.
    Returns (returncode, ru_maxrss in KiB or None)."""
    if p.returncode is not None:
        return p.returncode, None
    try:
        os.killpg(p.pid, sig)
    except ProcessLookupError:
        pass
    rc, rss = wait_rusage(p, timeout)
    if rc is None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        rc, rss = wait_rusage(p, 10.0)
    return rc, rss


def wait_rusage(p, timeout):
    """Reaps p with wait4 (for ru_maxrss). Returns (returncode, maxrss KiB)
    or (None, None) on timeout."""
    if p.returncode is not None:
        return p.returncode, None
    end = time.monotonic() + timeout
    while True:
        try:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        except ChildProcessError:
            p.returncode = p.returncode if p.returncode is not None else -1
            return p.returncode, None
        if pid == p.pid:
            p.returncode = os.waitstatus_to_exitcode(status)
            return p.returncode, ru.ru_maxrss
        if time.monotonic() >= end:
            return None, None
        time.sleep(0.002)


def cleanup_children():
    for p in _children:
        if p.returncode is None and p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


class Tracer:
    """A tracer process (irqlat or floor_loader) that prints a ready line on
    stderr once attached; stderr is collected by a thread."""

    def __init__(self, name, argv, ready, json_out=None, timeout=60.0, hwm=False):
        self.name, self.argv, self.json_out = name, argv, json_out
        self.lines = []
        self._ready_prefix = ready
        self._ready = threading.Event()
        self.t_start = time.monotonic()
        self.p = spawn(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._ready.wait(timeout)
        if not self.ready_seen:
            kill_tree(self.p, signal.SIGKILL)
            raise BenchError(f"{name} did not start ({' '.join(argv)}): " + " | ".join(self.lines[-5:]))
        self.t_ready = time.monotonic()
        self.maxrss_kib = None
        self.returncode = None
        if hwm:
            threading.Thread(target=self._watch_hwm, daemon=True).start()

    def _watch_hwm(self):
        """Peak RSS: VmHWM every 5 ms until the memory is gone (exit). VmHWM
        never decreases and is read up to the moment the process tears its
        memory down, so the last value covers the final report too.
        (wait4's ru_maxrss would not do: it carries the RSS of the Python
        process that forked the tracer, from before exec.)"""
        path = f"/proc/{self.p.pid}/status"
        while True:
            hwm = None
            try:
                with open(path) as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            hwm = int(line.split()[1])
                            break
            except (FileNotFoundError, ProcessLookupError):
                pass
            if hwm is None:
                return
            self.maxrss_kib = hwm
            time.sleep(0.005)

    ready_seen = False

    def _read(self):
        for line in self.p.stderr:
            line = line.rstrip("\n")
            self.lines.append(line)
            if line.startswith(self._ready_prefix):
                self.ready_seen = True
                self._ready.set()
        self._ready.set()

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        """Running? Does not reap (stop/wait collect ru_maxrss with wait4)."""
        if self.p.returncode is not None:
            return False
        try:
            return os.waitid(os.P_PID, self.p.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
        except ChildProcessError:
            return False

    def stop(self, timeout=60.0):
        if self.p.returncode is None:
            try:
                self.p.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        return self.wait(timeout)

    def wait(self, timeout=60.0):
        rc, _ = wait_rusage(self.p, timeout)
        if rc is None:
            kill_tree(self.p, signal.SIGKILL)
            raise BenchError(f"{self.name} did not exit within {timeout:.0f} s (killed)")
        self._reader.join(5)
        self.returncode = rc
        if rc != 0:
            raise BenchError(f"{self.name} exited with status {rc}: " + " | ".join(self.lines[-5:]))
        return rc

    def report(self):
        if not self.json_out:
            return None
        with open(self.json_out) as f:
            return json.load(f)


def start_irqlat(name, args, json_out, hwm=False):
    return Tracer(name, [IRQLAT, "trace", *args, "-f", "json", "-o", json_out], IRQLAT_READY, json_out, hwm=hwm)


def start_floor(clock=False):
    return Tracer("floor+clock" if clock else "floor", [FLOOR] + (["--clock"] if clock else []), FLOOR_READY)


def vmrss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return None


def rss_breakdown(pid):
    """VmRSS of pid by kind of mapping, KiB, from /proc/PID/smaps. BPF maps
    are the ring buffer (its data pages are mapped twice, so a touched page
    counts twice) and the mmap-ed interrupt statistics."""
    kinds = {}
    name = ""
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                head = line.split()
                if head and "-" in head[0] and ":" not in head[0]:
                    path = head[5] if len(head) > 5 else ""
                    if path.startswith("anon_inode:bpf"):
                        name = "bpf maps (mmap)"
                    elif path in ("", "[heap]"):
                        name = "heap + anonymous"
                    elif path.startswith("/"):
                        name = "binary + libraries"
                    else:
                        name = "other"
                elif line.startswith("Rss:"):
                    kinds[name] = kinds.get(name, 0) + int(head[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return kinds


def fmt_breakdown(kinds):
    return ", ".join(f"{k} {v / 1024:.1f} MiB" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]))


def cpu_seconds(pid):
    """utime + stime of pid so far, seconds (/proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def perf_profile(argv, tmpdir, top=10):
    """A flat `perf record` profile of one run of argv: shares by DSO and the
    top symbols. Diagnostic only; None if perf cannot record here."""
    data = os.path.join(tmpdir, "perf.data")
    r = subprocess.run(["perf", "record", "-q", "-F", "2000", "-o", data, "--", *argv],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None

    def report(sort, limit):
        out = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", sort,
                              "--percent-limit", str(limit), "-q"], capture_output=True, text=True).stdout
        rows = []
        for line in out.splitlines():
            parts = line.split()
            if not parts or not parts[0].endswith("%"):
                continue
            while parts and parts[-1] == "-":
                parts.pop()
            name = " ".join(parts[1:]).replace("[.] ", "").replace("[k] ", "[kernel] ")
            rows.append((float(parts[0].rstrip("%")), name[:110]))
        return rows
    prof = {"dso": report("dso", 1), "symbols": report("dso,symbol", 1)[:top]}
    os.unlink(data)
    return prof


def instructions(argv):
    """User-space instructions one run of argv executes (callgrind's "I refs"):
    unlike seconds, the same on a fast or a slow hour of the host, so runs of
    different days compare. None when valgrind is missing or the run fails."""
    if not shutil.which("valgrind"):
        return None
    r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=1800)
    m = re.search(r"I\s+refs:\s+([\d,]+)", r.stderr)
    return int(m.group(1).replace(",", "")) if r.returncode == 0 and m else None


SYSCALLS = {0: "read", 1: "write", 3: "close", 5: "fstat", 7: "poll", 9: "mmap", 10: "mprotect",
            11: "munmap", 63: "uname", 12: "brk", 13: "rt_sigaction", 14: "rt_sigprocmask", 15: "rt_sigreturn",
            16: "ioctl", 20: "writev", 28: "madvise", 35: "nanosleep", 39: "getpid", 60: "exit",
            61: "wait4", 62: "kill", 72: "fcntl", 202: "futex", 217: "getdents64", 228: "clock_gettime",
            230: "clock_nanosleep", 231: "exit_group", 232: "epoll_wait", 247: "waitid", 257: "openat",
            262: "newfstatat", 281: "epoll_pwait", 298: "perf_event_open", 321: "bpf"}


def children_of(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


# ------------------------------------------------------- BPF statistics

def set_bpf_stats(on):
    with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
        f.write("1\n" if on else "0\n")


def get_bpf_stats():
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        return f.read().strip()


def prog_fdinfo(pid):
    """{prog_id: {"rt", "cnt", "miss"}} for every BPF program fd of pid, from
    /proc/PID/fdinfo (the kernel's bpf_prog_info run_time_ns/run_cnt)."""
    out = {}
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(f"{fd_dir}/{fd}") != "anon_inode:bpf-prog":
                continue
            info = {}
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    info[k.strip()] = v.strip()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if "prog_id" in info:
            out[int(info["prog_id"])] = {
                "rt": int(info.get("run_time_ns", 0)),
                "cnt": int(info.get("run_cnt", 0)),
                "miss": int(info.get("recursion_misses", 0)),
            }
    return out


def bpftool_progs():
    """{prog_id: entry} from `bpftool -j prog show` (names; run_time_ns and
    run_cnt appear there too while kernel.bpf_stats_enabled=1)."""
    r = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True, check=True)
    return {p["id"]: p for p in json.loads(r.stdout or "[]")}


def tracepoint_of(prog_name):
    for prefix in ("tp_btf_", "raw_tp_", "floor_"):
        if prog_name.startswith(prefix):
            return prog_name[len(prefix):]
    return None


class ProgMap:
    """Maps a tracer's BPF program ids to tracepoint names."""

    def __init__(self, pid):
        ids = prog_fdinfo(pid)
        tool = bpftool_progs()
        self.tp = {}
        self.bpftool_has_stats = any("run_cnt" in tool[i] for i in ids if i in tool)
        for i in ids:
            name = tool.get(i, {}).get("name", "")
            tp = tracepoint_of(name)
            if tp:
                self.tp[i] = tp

    def snapshot(self, pid):
        snap = {}
        for i, v in prog_fdinfo(pid).items():
            tp = self.tp.get(i)
            if tp:
                snap[tp] = v
        return snap

    def tracepoints(self):
        return set(self.tp.values())


def delta(a, b):
    out = {}
    for tp, v in b.items():
        u = a.get(tp, {"rt": 0, "cnt": 0, "miss": 0})
        out[tp] = {k: v[k] - u[k] for k in ("rt", "cnt", "miss")}
    return out


# ------------------------------------------------------------ statistics

def mmm(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return (min(xs), statistics.median(xs), max(xs))


def fmt_mmm(t, f="{:.2f}", unit=""):
    if t is None:
        return "n/a"
    a, m, b = (f.format(x) for x in t)
    return f"{m}{unit} [{a}–{b}]"


def verdict(ok):
    return "PASS" if ok else "MISS"


def rotate(seq, r):
    r %= len(seq)
    return seq[r:] + seq[:r]


# ------------------------------------------------------------- workload

class Mix:
    """The fixed workload mix: perf bench sched pipe pinned to CPU 1, a dd
    O_DIRECT loop (virtio-blk interrupts) and the UDP loopback blaster
    (NET_RX softirqs), both pinned to CPU 0."""

    def __init__(self, tmpdir):
        self.tmpdir = tmpdir
        self.procs = []

    def start(self):
        self.pipe = spawn([TASKSET, "-c", "1", "perf", "bench", "sched", "pipe", "-l", "1000000000"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ddfile = os.path.join(self.tmpdir, "dd.out")
        loop = (f"while :; do dd if=/dev/zero of={ddfile} bs=4k count={DD_COUNT} "
                f"oflag=direct status=none || exit 1; done")
        self.dd = spawn([TASKSET, "-c", "0", "bash", "-c", loop],
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.udp = spawn([TASKSET, "-c", "0", UDP_BLAST, "--pps", str(UDP_PPS)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs = [self.pipe, self.dd, self.udp]
        end = time.monotonic() + 5
        while not children_of(self.pipe.pid):
            if time.monotonic() > end:
                raise BenchError("perf bench sched pipe did not start its second process")
            time.sleep(0.01)
        self.pipe_child = children_of(self.pipe.pid)[0]
        time.sleep(0.5)
        self.check()

    def pipe_pids(self):
        return [self.pipe.pid, self.pipe_child]

    def check(self):
        for p, what in ((self.pipe, "perf bench sched pipe"), (self.dd, "dd loop"), (self.udp, "udp_blast")):
            if p.poll() is not None:
                err = p.stderr.read() if p.stderr else ""
                raise BenchError(f"workload {what} died (status {p.returncode}) {err.strip()}")

    def stop(self):
        for p in self.procs:
            kill_tree(p)
        self.procs = []


# ------------------------------------------------- 1. in-kernel cost

def section_cost(tmpdir, res):
    log(f"1. in-kernel cost: {ROUNDS} rounds x 5 configs x {COST_SECONDS:g} s windows under the mix")
    idle = spawn(["sleep", "1000000"], stdout=subprocess.DEVNULL)
    mix = Mix(tmpdir)
    mix.start()
    # floor+clock: the floor's programs with one bpf_ktime_get_ns() each, the
    # least a program that timestamps its events costs (information: the
    # targets are against the empty floor).
    configs = ["floor", "floor+clock", "irqlat -p pipe", "irqlat -p idle", "irqlat -a"]
    runs = {c: [] for c in configs}
    tps = {}
    bpftool_stats = True
    try:
        set_bpf_stats(True)
        for r in range(ROUNDS):
            for c in rotate(configs, r):
                mix.check()
                out = os.path.join(tmpdir, f"cost-{r}-{c.replace(' ', '_')}.json")
                if c == "floor":
                    tr = start_floor()
                elif c == "floor+clock":
                    tr = start_floor(clock=True)
                elif c == "irqlat -p pipe":
                    tr = start_irqlat(c, ["-p", ",".join(map(str, mix.pipe_pids()))], out)
                elif c == "irqlat -p idle":
                    tr = start_irqlat(c, ["-p", str(idle.pid)], out)
                else:
                    tr = start_irqlat(c, ["-a"], out)
                pm = ProgMap(tr.pid)
                bpftool_stats = bpftool_stats and pm.bpftool_has_stats
                tps[c] = pm.tracepoints()
                time.sleep(SETTLE_SECONDS)
                s0, t0 = pm.snapshot(tr.pid), time.monotonic()
                time.sleep(COST_SECONDS)
                s1, t1 = pm.snapshot(tr.pid), time.monotonic()
                tr.stop()
                rep = tr.report()
                runs[c].append({"progs": delta(s0, s1), "seconds": t1 - t0,
                                "events": rep["events"] if rep else None,
                                "lossy": rep.get("lossy") if rep else None})
            log(f"   round {r + 1}/{ROUNDS} done")
    finally:
        set_bpf_stats(False)
        mix.stop()
        kill_tree(idle)
    # The histogram bucket every interrupt exit and wakeup latency pays,
    # alone: bench/bucket_cost (BPF_PROG_TEST_RUN, order rotating).
    out, _ = run_checked([BUCKET_COST, str(ROUNDS)], "bucket_cost")
    res["cost"] = {"runs": runs, "tracepoints": {c: sorted(v) for c, v in tps.items()},
                   "bpftool_has_stats": bpftool_stats, "bucket": json.loads(out)}


def mix_ratio(cfg, floor, only=None):
    """Mean ns/event of cfg over its own events, the floor's ns/event on the
    same events (same per-tracepoint weights), and their ratio. Tracepoints
    with no events on either side are left out."""
    rt = cnt = fl = 0
    for tp, v in cfg.items():
        f = floor.get(tp)
        if only and not tp.startswith(only):
            continue
        if not v["cnt"] or not f or not f["cnt"]:
            continue
        rt += v["rt"]
        cnt += v["cnt"]
        fl += v["cnt"] * f["rt"] / f["cnt"]
    if not cnt:
        return None
    return rt / cnt, fl / cnt, (rt / cnt) / (fl / cnt)


def analyze_cost(res):
    c = res["cost"]
    runs = c["runs"]
    floors = runs["floor"]
    clocks = runs.get("floor+clock") or [None] * len(floors)
    out = {}
    for cfg in ("irqlat -p pipe", "irqlat -p idle", "irqlat -a"):
        per = [(mix_ratio(a["progs"], f["progs"]), mix_ratio(a["progs"], f["progs"], TASK_TPS_PREFIX))
               for a, f in zip(runs[cfg], floors)]
        # Against floor+clock on the same events: what irqlat costs beyond one clock read.
        vs_clock = [mix_ratio(a["progs"], k["progs"]) if k else None for a, k in zip(runs[cfg], clocks)]
        out[cfg] = {
            "clock_floor_ns": mmm([v[1] for v in vs_clock if v]),
            "clock_ratio": mmm([v[2] for v in vs_clock if v]),
            "mean_ns": mmm([p[0][0] for p in per if p[0]]),
            "floor_ns": mmm([p[0][1] for p in per if p[0]]),
            "ratio": mmm([p[0][2] for p in per if p[0]]),
            "task_mean_ns": mmm([p[1][0] for p in per if p[1]]),
            "task_floor_ns": mmm([p[1][1] for p in per if p[1]]),
            "task_ratio": mmm([p[1][2] for p in per if p[1]]),
            "events_per_s": mmm([sum(v["cnt"] for v in a["progs"].values()) / a["seconds"] for a in runs[cfg]]),
            "misses": sum(sum(v["miss"] for v in a["progs"].values()) for a in runs[cfg]),
            "dropped": sum((a["events"] or {}).get("dropped", 0) for a in runs[cfg]),
            "lossy_runs": sum(1 for a in runs[cfg] if a["lossy"]),
        }
    out["floor"] = {
        "events_per_s": mmm([sum(v["cnt"] for v in f["progs"].values()) / f["seconds"] for f in floors]),
        "misses": sum(sum(v["miss"] for v in f["progs"].values()) for f in floors),
    }
    if runs.get("floor+clock"):
        # floor+clock over its own events against the floor on the same events.
        per = [mix_ratio(k["progs"], f["progs"]) for k, f in zip(runs["floor+clock"], floors)]
        out["floor+clock"] = {
            "events_per_s": mmm([sum(v["cnt"] for v in k["progs"].values()) / k["seconds"]
                                 for k in runs["floor+clock"]]),
            "mean_ns": mmm([p[0] for p in per if p]),
            "floor_ns": mmm([p[1] for p in per if p]),
            "ratio": mmm([p[2] for p in per if p]),
            "misses": sum(sum(v["miss"] for v in k["progs"].values()) for k in runs["floor+clock"]),
        }
    # Per program: median ns/event over rounds, median per-round ratio, share.
    tps = sorted(set().union(*(set(r["progs"]) for rs in runs.values() for r in rs)))
    rows = []
    for tp in tps:
        row = {"tp": tp}
        fl = [f["progs"].get(tp) for f in floors]
        row["floor_eps"] = statistics.median(
            [(v["cnt"] if v else 0) / f["seconds"] for v, f in zip(fl, floors)])
        row["floor_ns"] = mmm([v["rt"] / v["cnt"] if v and v["cnt"] else None for v in fl])
        kl = [k["progs"].get(tp) if k else None for k in clocks]
        row["clock_ns"] = mmm([v["rt"] / v["cnt"] if v and v["cnt"] else None for v in kl])
        for cfg in ("irqlat -p pipe", "irqlat -p idle", "irqlat -a"):
            ns, ratio = [], []
            for a, f in zip(runs[cfg], floors):
                v, w = a["progs"].get(tp), f["progs"].get(tp)
                if v and v["cnt"]:
                    ns.append(v["rt"] / v["cnt"])
                    if w and w["cnt"]:
                        ratio.append((v["rt"] / v["cnt"]) / (w["rt"] / w["cnt"]))
            tot = [sum(x["rt"] for x in a["progs"].values()) for a in runs[cfg]]
            share = [a["progs"].get(tp, {"rt": 0})["rt"] / t for a, t in zip(runs[cfg], tot) if t]
            row[cfg] = {"ns": mmm(ns), "ratio": mmm(ratio), "share": statistics.median(share) if share else 0,
                        "eps": statistics.median([a["progs"].get(tp, {"cnt": 0})["cnt"] / a["seconds"]
                                                  for a in runs[cfg]])}
        rows.append(row)
    out["rows"] = rows
    irq_tps = set(c["tracepoints"].get("irqlat -a", []))
    floor_tps = set(c["tracepoints"].get("floor", []))
    out["tp_mismatch"] = sorted(irq_tps ^ floor_tps)
    if c.get("bucket"):
        out["bucket"] = {k: mmm(c["bucket"][k]) for k in ("branchy_ns", "irqlat_ns")}
    return out


# ------------------------------------------------ 2. target slowdown

def perf_pipe_argv():
    return [TASKSET, "-c", "1", "perf", "bench", "sched", "pipe", "-l", str(PIPE_LOOPS)]


def usecs_per_op(text):
    m = re.search(r"([0-9.]+)\s+usecs/op", text)
    if not m:
        raise BenchError("no 'usecs/op' in perf bench output: " + text[-300:])
    return float(m.group(1))


def run_checked(argv, what, timeout=600):
    p = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(p, signal.SIGKILL)
        raise BenchError(f"{what} timed out")
    if p.returncode != 0:
        raise BenchError(f"{what} failed (status {p.returncode}): {err.strip()[-400:]}")
    return out, err


def section_slowdown(tmpdir, res):
    log(f"2. target slowdown: {PIPE_ROUNDS} rounds of perf bench sched pipe -l {PIPE_LOOPS}, "
        "untraced / floor / irqlat / bpftrace")
    configs = ["untraced", "floor", "irqlat", "bpftrace"]
    us = {c: [] for c in configs}
    drops = 0
    set_bpf_stats(False)
    for r in range(PIPE_ROUNDS):
        for c in rotate(configs, r):
            if c == "untraced":
                out, _ = run_checked(perf_pipe_argv(), "perf bench")
            elif c == "floor":
                tr = start_floor()
                try:
                    out, _ = run_checked(perf_pipe_argv(), "perf bench under floor")
                finally:
                    tr.stop()
            elif c == "irqlat":
                js = os.path.join(tmpdir, f"slow-{r}.json")
                out, _ = run_checked([IRQLAT, "trace", "-f", "json", "-o", js, "--", *perf_pipe_argv()],
                                     "irqlat trace -- perf bench")
                with open(js) as f:
                    drops += json.load(f)["events"].get("dropped", 0)
            else:
                out, _ = run_checked(["bpftrace", RUNQLAT_BT, "-c", " ".join(perf_pipe_argv())],
                                     "bpftrace runqlat -c perf bench")
            us[c].append(usecs_per_op(out))
        log(f"   round {r + 1}/{PIPE_ROUNDS}: " + ", ".join(f"{c} {us[c][-1]:.3f} us/op" for c in configs))
    res["slowdown"] = {"usecs_per_op": us, "irqlat_dropped": drops}


def analyze_slowdown(res):
    s = res["slowdown"]["usecs_per_op"]
    base = s["untraced"]
    out = {"untraced_us": mmm(base)}
    for c in ("floor", "irqlat", "bpftrace"):
        out[c] = {"us": mmm(s[c]), "ratio": mmm([x / b for x, b in zip(s[c], base)])}
    # irqlat beyond what any attached program costs (information).
    out["irqlat_vs_floor"] = mmm([x / f for x, f in zip(s["irqlat"], s["floor"])])
    return out


# --------------------------------------------- 3. collector throughput

def report_available():
    if not os.access(GEN_RECORDING, os.X_OK):
        return False, f"{os.path.relpath(GEN_RECORDING, ROOT)} not built"
    r = subprocess.run([IRQLAT, "report", "/nonexistent.irqlat"], capture_output=True, text=True)
    if "not implemented" in r.stderr:
        return False, "irqlat report is not implemented"
    return True, ""


def decompress_seconds(path):
    """Baseline: bench/decompress_only reads the recording and decompresses
    every block payload (zlib or zstd, the libraries `report` uses) and
    nothing else. Returns (seconds of its loop, raw bytes)."""
    out, _ = run_checked([TASKSET, "-c", "0", DECOMPRESS_ONLY, path], "decompress_only")
    d = json.loads(out)
    return d["seconds"], d["raw_bytes"]


def record_mix(tmpdir, path, extra=()):
    """A real recording: `irqlat record -a` of the workload mix holding at
    least REPORT_EVENTS events. The mix's rate depends on the host (330k to
    600k records/s seen), so a recording that comes out short is made again,
    longer by the rate it showed."""
    seconds = max(10, -(-REPORT_EVENTS // 300_000))
    for _ in range(3):
        log(f"3. collector throughput: recording the mix system-wide for {seconds} s {' '.join(extra)}")
        mix = Mix(tmpdir)
        mix.start()
        try:
            _, err = run_checked([IRQLAT, "record", "-a", "-d", f"{seconds}s", "-o", path, *extra],
                                 "irqlat record", timeout=seconds + 120)
        finally:
            mix.stop()
        line = err.strip().splitlines()[-1] if err.strip() else ""
        m = re.search(r"recorded (\d+) events", line)
        if not m:
            raise BenchError(f"irqlat record printed no event count: {line!r}")
        got = int(m.group(1))
        if got >= REPORT_EVENTS:
            return line
        log(f"3. collector throughput: {got} events, fewer than {REPORT_EVENTS}: recording again")
        if got == 0:
            raise BenchError(f"irqlat record of the mix recorded no events: {line!r}")
        # 20% over the rate seen; two minutes at most (a mix that slow is broken).
        seconds = min(120, -(-seconds * REPORT_EVENTS * 6 // (got * 5)))
    raise BenchError(f"the mix gave fewer than {REPORT_EVENTS} events in 3 recordings (last: {line})")


def section_collector(tmpdir, res):
    ok, why = report_available()
    if not ok:
        log(f"3. collector throughput: skipped ({why})")
        res["collector"] = {"skipped": "record/report not built", "why": why}
        return
    # The default codec (zlib) on a real and a synthetic recording; a second
    # real recording with --compress zstd for information.
    files = {"real": os.path.join(tmpdir, "mix.irqlat"), "synthetic": os.path.join(tmpdir, "bench.irqlat"),
             "real-zstd": os.path.join(tmpdir, "mix-zstd.irqlat")}
    # Interface of bench/gen_recording (owned elsewhere): N FILE, overridable
    # with BENCH_GEN_ARGS ("{events}" and "{file}" substituted).
    args = os.environ.get("BENCH_GEN_ARGS", "{events} {file}")
    argv = [GEN_RECORDING] + [a.format(events=REPORT_EVENTS, file=files["synthetic"]) for a in args.split()]
    log(f"3. collector throughput: generating {REPORT_EVENTS} events: {' '.join(argv)}")
    gen_out, _ = run_checked(argv, "gen_recording", timeout=1200)
    lines = {"synthetic": gen_out.strip(), "real": record_mix(tmpdir, files["real"]),
             "real-zstd": record_mix(tmpdir, files["real-zstd"], ("--compress", "zstd"))}
    for f in files.values():
        if not os.path.exists(f):
            raise BenchError(f"no recording {f}: {lines}")
    rounds = max(ROUNDS, 10) if not QUICK else ROUNDS
    out = {k: {"report_s": [], "cpu_s": [], "decompress_s": [], "events": None, "bytes": os.path.getsize(f),
               "line": lines[k]} for k, f in files.items()}
    steps = [(k, c) for k in files for c in ("report", "decompress")]
    for r in range(rounds):
        for k, c in rotate(steps, r):
            o = out[k]
            if c == "decompress":
                secs, o["raw_bytes"] = decompress_seconds(files[k])
                o["decompress_s"].append(secs)
                continue
            js = os.path.join(tmpdir, "report.json")
            t0 = time.perf_counter()
            p = spawn([TASKSET, "-c", "0", IRQLAT, "report", files[k], "-f", "json", "-o", js],
                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            pid, status, ru = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
            o["report_s"].append(time.perf_counter() - t0)
            o["cpu_s"].append(ru.ru_utime + ru.ru_stime)
            if p.returncode != 0:
                raise BenchError(f"irqlat report failed (status {p.returncode}): {p.stderr.read()[-400:]}")
            with open(js) as f:
                o["events"] = json.load(f)["events"]["received"]
    for k, f in files.items():
        if k != "real-zstd":
            out[k]["profile"] = perf_profile([TASKSET, "-c", "0", IRQLAT, "report", f, "-f", "json", "-o",
                                              os.devnull], tmpdir)
        log(f"3. collector throughput: counting instructions (callgrind) on the {k} recording")
        out[k]["report_instr"] = instructions([IRQLAT, "report", f, "-f", "json", "-o", os.devnull])
        out[k]["decompress_instr"] = instructions([DECOMPRESS_ONLY, f])
    res["collector"] = out


def analyze_collector(res):
    c = res["collector"]
    if "skipped" in c:
        return c
    an = {}
    for k, o in c.items():
        ev = o["events"] or 0
        an[k] = {"events": ev, "bytes_per_event": o["bytes"] / ev if ev else None,
                 "eps": mmm([ev / s for s in o["report_s"]]),
                 "eps_cpu": mmm([ev / s for s in o["cpu_s"] if s > 0]),
                 "decompress_eps": mmm([ev / s for s in o["decompress_s"] if s]),
                 "ratio": mmm([a / b for a, b in zip(o["report_s"], o["decompress_s"]) if b]),
                 "line": o.get("line", ""), "profile": o.get("profile"),
                 "instr_per_event": o["report_instr"] / ev if ev and o.get("report_instr") else None,
                 "decompress_instr_per_event":
                     o["decompress_instr"] / ev if ev and o.get("decompress_instr") else None,
                 "raw_bytes_per_event": o["raw_bytes"] / ev if ev and o.get("raw_bytes") else None}
    return an


# ---------------------------------------------------- 4. live rate

def section_live(tmpdir, res):
    log(f"4. live rate: irqlat trace -a of the mix for {LIVE_SECONDS} s")
    mix = Mix(tmpdir)
    mix.start()
    try:
        set_bpf_stats(True)
        js = os.path.join(tmpdir, "live.json")
        tr = start_irqlat("irqlat -a (live)", ["-a", "-d", f"{LIVE_SECONDS}s"], js, hwm=True)
        pm = ProgMap(tr.pid)
        s0, t0, c0 = pm.snapshot(tr.pid), time.monotonic(), cpu_seconds(tr.pid)
        c1 = None
        samples = []  # (seconds since ready, VmRSS KiB), every second while it traces
        s1 = t1 = None
        breakdown = {}
        snap_at = LIVE_SECONDS - 0.5  # kernel counters: before irqlat stops counting
        next_sample = 0.0
        while tr.alive():
            now = time.monotonic() - tr.t_ready
            if now >= next_sample and now < LIVE_SECONDS:
                rss = vmrss_kib(tr.pid)
                if rss is not None:
                    samples.append((round(now, 2), rss))
                next_sample += 1.0
            if s1 is None and now >= snap_at:
                s1, t1, c1 = pm.snapshot(tr.pid), time.monotonic(), cpu_seconds(tr.pid)
                breakdown = rss_breakdown(tr.pid)
            wake = min(next_sample, snap_at if s1 is None else LIVE_SECONDS + 60)
            time.sleep(min(0.2, max(0.01, wake - now)))
        tr.wait()
        mix.check()
        rep = tr.report()
    finally:
        set_bpf_stats(False)
        mix.stop()
    k = delta(s0, s1 or s0)
    res["live"] = {"report_events": rep["events"], "lossy": rep.get("lossy"),
                   "threads": len({t["tid"] for t in rep.get("threads", [])}),
                   "duration_ns": rep["end_ns"] - rep["start_ns"], "rss": samples,
                   "maxrss_kib": tr.maxrss_kib, "rss_breakdown": breakdown,
                   "kernel_runs": sum(v["cnt"] for v in k.values()),
                   "kernel_seconds": (t1 - t0) if t1 else None,
                   "kernel_misses": sum(v["miss"] for v in k.values()),
                   "collector_cpu": (c1 - c0) / (t1 - t0) if c0 is not None and c1 is not None and t1 else None}


def analyze_live(res):
    lv = res["live"]
    ev = lv["report_events"]
    secs = lv["duration_ns"] / 1e9
    rss = lv["rss"]
    warm = [s for s in rss if s[0] >= 1.0] or rss
    start_kib, end_kib = warm[0][1], rss[-1][1]
    kernel_eps = lv["kernel_runs"] / lv["kernel_seconds"] if lv["kernel_seconds"] else None
    # Flat: the end is within 2 MiB of the warmed-up start.
    flat = end_kib - start_kib <= 2048
    return {"received_eps": ev["received"] / secs, "received": ev["received"], "dropped": ev["dropped"],
            "late": ev.get("late", 0), "missed": ev.get("missed", 0), "lossy": lv["lossy"],
            "seconds": secs, "kernel_eps": kernel_eps,
            "streamed_fraction": (ev["received"] / secs) / kernel_eps if kernel_eps else None,
            "rss_start_mib": start_kib / 1024, "rss_end_mib": end_kib / 1024,
            "rss_max_mib": max(s[1] for s in rss) / 1024,
            # VmHWM is summed from per-CPU counters and may trail an exact VmRSS read by a little.
            "maxrss_mib": max(lv["maxrss_kib"] or 0, max(s[1] for s in rss)) / 1024,
            "flat": flat, "pass": ev["dropped"] == 0 and flat, "breakdown": lv["rss_breakdown"],
            "threads": lv.get("threads"), "rss_growth_mib": (end_kib - start_kib) / 1024,
            "rss_growth_s": rss[-1][0] - warm[0][0],
            "collector_cpu": lv.get("collector_cpu")}


# --------------------------------------------------------- 5. scale

class Ring:
    def __init__(self):
        self.p = spawn([THREAD_RING, "--threads", str(RING_THREADS), "--tokens", str(RING_TOKENS)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.q = queue.Queue()
        line = self.p.stderr.readline()
        if "ready" not in line:
            raise BenchError("thread_ring did not start: " + line + self.p.stderr.read())
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.q.put(line)

    def mark(self):
        os.kill(self.p.pid, signal.SIGUSR1)
        d = json.loads(self.q.get(timeout=10))
        return d["t_ns"], d["passes"]

    def rate(self, a, b):
        return (b[1] - a[1]) / ((b[0] - a[0]) / 1e9)

    def stop(self):
        kill_tree(self.p)


def section_scale(tmpdir, res):
    log(f"5. scale: {ROUNDS} rounds, thread_ring {RING_THREADS} threads / {RING_TOKENS} tokens, "
        f"untraced vs irqlat -p, {RING_SECONDS:g} s windows")
    set_bpf_stats(False)
    ring = Ring()
    runs = {"untraced": [], "irqlat": []}
    try:
        time.sleep(0.5)
        for r in range(ROUNDS):
            for c in rotate(["untraced", "irqlat"], r):
                if c == "untraced":
                    a = ring.mark()
                    time.sleep(RING_SECONDS)
                    runs[c].append({"rate": ring.rate(a, ring.mark())})
                    continue
                js = os.path.join(tmpdir, f"ring-{r}.json")
                tr = start_irqlat("irqlat -p thread_ring", ["-p", str(ring.p.pid)], js, hwm=True)
                time.sleep(SETTLE_SECONDS)
                a = ring.mark()
                rss = []
                end = time.monotonic() + RING_SECONDS
                while time.monotonic() < end:
                    time.sleep(min(0.5, max(0.0, end - time.monotonic())))
                    v = vmrss_kib(tr.pid)
                    if v:
                        rss.append(v)
                b = ring.mark()
                breakdown = rss_breakdown(tr.pid)
                tr.stop()
                rep = tr.report()
                secs = (rep["end_ns"] - rep["start_ns"]) / 1e9
                runs[c].append({"rate": ring.rate(a, b), "rss_kib": max(rss) if rss else None,
                                "maxrss_kib": max(tr.maxrss_kib or 0, max(rss) if rss else 0) or None, "rss_breakdown": breakdown, "received": rep["events"]["received"],
                                "dropped": rep["events"]["dropped"], "seconds": secs,
                                "threads": len({t["tid"] for t in rep.get("threads", [])})})
            log(f"   round {r + 1}/{ROUNDS}: untraced {runs['untraced'][-1]['rate']:.0f} passes/s, "
                f"traced {runs['irqlat'][-1]['rate']:.0f} passes/s, "
                f"irqlat maxrss {runs['irqlat'][-1]['maxrss_kib'] / 1024:.1f} MiB")
    finally:
        ring.stop()
    res["scale"] = runs


def analyze_scale(res):
    s = res["scale"]
    u, t = s["untraced"], s["irqlat"]
    return {"untraced_rate": mmm([x["rate"] for x in u]), "traced_rate": mmm([x["rate"] for x in t]),
            "slowdown": mmm([a["rate"] / b["rate"] for a, b in zip(u, t)]),
            "maxrss_mib": mmm([x["maxrss_kib"] / 1024 for x in t if x["maxrss_kib"]]),
            "rss_mib": mmm([x["rss_kib"] / 1024 for x in t if x["rss_kib"]]),
            "eps": mmm([x["received"] / x["seconds"] for x in t]),
            "dropped": sum(x["dropped"] for x in t),
            "threads": mmm([x["threads"] for x in t]),
            "traced_s": mmm([x["seconds"] for x in t]),
            "breakdown": max(t, key=lambda x: x["maxrss_kib"] or 0)["rss_breakdown"]}


# ------------------------------------------------------ 6. stop time

def section_stop(tmpdir, res):
    log(f"6. stop time: {STOP_REPS} x SIGTERM at a random moment, irqlat trace -a and irqlat daemon "
        f"vs floor_loader, under the mix")
    set_bpf_stats(False)
    mix = Mix(tmpdir)
    mix.start()
    # The daemon's targets: the sched pipe and an `irqlat trace -a` over the
    # mix (irqlat tracing irqlat), attached once it listens. It is tracing
    # before the first repetition starts: a tracer attaching at the same time
    # as the measured one decides which of the two is first on each
    # tracepoint, and the first one's detach is the slow one (stop_shared).
    watched = start_irqlat("watched", ["-a"], os.devnull)
    sock = os.path.join(tmpdir, "irqlat-bench.sock")
    runs = {"irqlat": [], "daemon": [], "floor": []}
    rng = random.Random()
    try:
        for r in range(STOP_REPS):
            for c in rotate(["irqlat", "daemon", "floor"], r):
                mix.check()
                seed = str(rng.randrange(1 << 62))
                attacher = None
                if c == "irqlat":
                    argv = [STOP_TIME, "--seed", seed, "--", IRQLAT, "trace", "-a"]
                elif c == "daemon":
                    argv = [STOP_TIME, "--seed", seed, "--delay-ms", "800,2000", "--", IRQLAT, "daemon",
                            "--socket", sock]
                    attached = {}
                    attacher = threading.Thread(target=attach_when_listening,
                                                args=(sock, mix.pipe_pids() + [watched.pid], attached),
                                                daemon=True)
                    attacher.start()
                else:
                    argv = [STOP_TIME, "--seed", seed, "--ready", FLOOR_READY, "--", FLOOR]
                out, err = run_checked(argv, f"stop_time {c}", timeout=120)
                if attacher:
                    attacher.join(10)
                    # A stop of a daemon that was not attached is not the
                    # figure we report: no figure then.
                    if attacher.is_alive() or not attached.get("ok"):
                        raise BenchError(f"daemon stop rep {r + 1}: ctl attach did not succeed before "
                                         f"the stop: {attached.get('error', 'still running after 10 s')}")
                d = json.loads(out.strip().splitlines()[-1])
                if d["exit_status"] != 0:
                    raise BenchError(f"{c} exited with {d['exit_status']} after SIGTERM: {err[-400:]}")
                runs[c].append(d)
            log(f"   rep {r + 1}/{STOP_REPS}: irqlat {runs['irqlat'][-1]['signal_to_exit_ns'] / 1e6:.2f} ms, "
                f"daemon {runs['daemon'][-1]['signal_to_exit_ns'] / 1e6:.2f} ms, "
                f"floor {runs['floor'][-1]['signal_to_exit_ns'] / 1e6:.2f} ms")
        kill_tree(watched.p)
        shared = stop_shared(3 if QUICK else 5)
        prof = stop_profile(2 if QUICK else 3)
    finally:
        kill_tree(watched.p)
        mix.stop()
    res["stop"] = runs
    res["stop_shared"] = shared
    res["stop_profile"] = prof


def attach_when_listening(sock, pids, result, timeout=5.0):
    """Attaches the daemon at sock to pids as soon as it listens (before
    stop_time's SIGTERM, which comes >= 800 ms after the ready line). Sets
    result["ok"] only when every `ctl attach` succeeded, else
    result["error"]."""
    deadline = time.time() + timeout
    while not os.path.exists(sock) and time.time() < deadline:
        time.sleep(0.005)
    for pid in pids:
        try:
            p = subprocess.run([IRQLAT, "ctl", "--socket", sock, "attach", str(pid)], capture_output=True,
                               text=True, timeout=10)
        except subprocess.TimeoutExpired:
            result["error"] = f"ctl attach {pid} timed out"
            return
        if p.returncode != 0:
            result["error"] = f"ctl attach {pid} exited {p.returncode}: {p.stderr.strip()[-300:]}"
            return
    result["ok"] = True


def stop_shared(reps):
    """Diagnostic: irqlat's stop when another tracer (floor_loader) shares its
    tracepoints, irqlat attached first vs second, alternating. When the first
    of a tracepoint's two probes leaves, the kernel waits for an RCU grace
    period before the second may be called directly (kernel/tracepoint.c,
    the 2 -> 1 transition), under the global tracepoints mutex: one grace
    period per shared tracepoint. Timed from Python (SIGTERM -> pidfd readable),
    a little coarser than stop_time; not in the figures above."""
    runs = {"first": [], "second": []}
    for r in range(reps):
        for order in rotate(["first", "second"], r):
            if order == "first":
                t = start_irqlat("irqlat", ["-a"], os.devnull)
                floor = start_floor()
            else:
                floor = start_floor()
                t = start_irqlat("irqlat", ["-a"], os.devnull)
            try:
                time.sleep(0.3)
                pidfd = os.pidfd_open(t.pid)  # readable when the process exits
                try:
                    t0 = time.monotonic()
                    t.p.send_signal(signal.SIGTERM)
                    if not select.select([pidfd], [], [], 60)[0]:
                        raise BenchError("irqlat did not exit within 60 s of SIGTERM")
                    runs[order].append((time.monotonic() - t0) * 1e3)
                finally:
                    os.close(pidfd)
                t.wait()
            finally:
                kill_tree(t.p)
                floor.stop()
    return runs


def stop_profile(reps):
    """Diagnostic: bench/stop_profile.bt around a few more irqlat stops
    (bpftrace's syscall tracing slows them a little; not in the figures)."""
    bt = spawn(["bpftrace", STOP_PROFILE_BT], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    attached = threading.Event()

    def read():
        for line in bt.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("Attaching"):
                attached.set()
        attached.set()
    th = threading.Thread(target=read, daemon=True)
    th.start()
    attached.wait(60)
    time.sleep(0.5)
    if bt.poll() is not None:
        return {"error": " | ".join(lines[-3:])}
    exits = []
    try:
        for i in range(reps):
            out, _ = run_checked([STOP_TIME, "--", IRQLAT, "trace", "-a"], "stop_time (profiled)", timeout=120)
            exits.append(json.loads(out.strip().splitlines()[-1])["signal_to_exit_ns"] / 1e6)
    finally:
        bt.send_signal(signal.SIGINT)
        try:
            bt.wait(30)
        except subprocess.TimeoutExpired:
            kill_tree(bt, signal.SIGKILL)
        th.join(5)
    eg = [int(l.split()[3]) / 1e6 for l in lines if l.startswith("stop_profile exit_group")]
    pe = [int(l.split()[3]) / 1e6 for l in lines if l.startswith("stop_profile process_exit")]
    ns, cnt = {}, {}
    for l in lines:
        m = re.match(r"@(ns|n)\[(\d+)\]: (\d+)", l)
        if m:
            (ns if m.group(1) == "ns" else cnt)[int(m.group(2))] = int(m.group(3))
    calls = sorted(((SYSCALLS.get(k, f"syscall {k}"), v / 1e6 / reps, cnt.get(k, 0) / reps) for k, v in ns.items()),
                   key=lambda x: -x[1])
    return {"reps": reps, "exit_ms": exits, "exit_group_ms": eg, "process_exit_ms": pe, "syscalls": calls[:8]}


def analyze_stop(res):
    s = res["stop"]
    ms = {c: [x["signal_to_exit_ns"] / 1e6 for x in v] for c, v in s.items()}
    stopped = [x["signal_to_stopped_ns"] / 1e6 for x in s["irqlat"] if x["signal_to_stopped_ns"] is not None]
    return {"irqlat_ms": mmm(ms["irqlat"]), "floor_ms": mmm(ms["floor"]), "stopped_line_ms": mmm(stopped),
            "daemon_ms": mmm(ms["daemon"]), "daemon_max_ms": max(ms["daemon"]),
            "ratio": mmm([a / b for a, b in zip(ms["irqlat"], ms["floor"])]), "n": len(ms["irqlat"]),
            "profile": res.get("stop_profile"),
            "shared": {k: mmm(v) for k, v in (res.get("stop_shared") or {}).items() if v}}


# ------------------------------------------------------------- report

def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()

    def ver(argv):
        try:
            r = subprocess.run(argv, capture_output=True, text=True)
            return (r.stdout or r.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"
    return {"kernel": platform.release(), "nproc": os.cpu_count(), "cpu": cpu,
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "irqlat": rev + (" (uncommitted changes)" if dirty else ""),
            "perf": ver(["perf", "--version"]), "bpftrace": ver(["bpftrace", "--version"]),
            "bpftool": ver(["bpftool", "version"])}


def render(res, an, cmd):
    m = res["machine"]
    L = []
    w = L.append
    w("# irqlat bench results" + (" (BENCH_QUICK=1 smoke run)" if QUICK else ""))
    w("")
    w(f"- command: `{cmd}`")
    w(f"- date: {m['date']}; irqlat {m['irqlat']}")
    w(f"- machine: kernel {m['kernel']}, {m['nproc']} CPUs, {m['cpu']}")
    w(f"- tools: {m['perf']}; {m['bpftrace']}; {m['bpftool']}")
    w(f"- settings: {ROUNDS} alternating rounds (order rotated each round); cost windows {COST_SECONDS:g} s; "
      f"perf bench sched pipe -l {PIPE_LOOPS} x {PIPE_ROUNDS} rounds; live {LIVE_SECONDS} s; ring {RING_THREADS} threads/"
      f"{RING_TOKENS} tokens, {RING_SECONDS:g} s windows; {STOP_REPS} stop repetitions")
    w(f"- workload mix: `taskset -c 1 perf bench sched pipe`; `taskset -c 0` loop of `dd if=/dev/zero "
      f"bs=4k count={DD_COUNT} oflag=direct` to /var/tmp; `taskset -c 0 udp_blast --pps {UDP_PPS}` (UDP loopback)")
    w("- figures: median [min–max] over rounds; every ratio is per round, against the baseline of the same round")
    w(f"- /proc/loadavg at start: {res['loadavg_start']}; at end: {res.get('loadavg_end', '?')} "
      "(anything else running on the machine disturbs A and B alike, but widens the spread)")
    w("")
    w("## Summary")
    w("")
    w("| target | measured | baseline (same run) | verdict |")
    w("| --- | --- | --- | --- |")
    for n, e in sorted(res.get("errors", {}).items()):
        w(f"| section {n} | failed: {e} | — | ERROR |")
    if "cost" in an:
        a = an["cost"]
        for cfg, label in (("irqlat -p pipe", "tracing the sched-pipe PIDs"), ("irqlat -a", "-a, every task a target")):
            x = a[cfg]
            w(f"| in-kernel mean cost over the mix ≤ 2x floor ({label}) | {fmt_mmm(x['ratio'], unit='x')} "
              f"({x['mean_ns'][1]:.0f} ns/event) | floor {x['floor_ns'][1]:.0f} ns/event on the same events | "
              f"{verdict(x['ratio'][1] <= TARGETS['cost_mix'])} |")
        if "floor+clock" in a and a["floor+clock"]["ratio"]:
            k = a["floor+clock"]
            x = a["irqlat -p pipe"]
            w(f"| (information: the floor with one bpf_ktime_get_ns() per program; irqlat -p pipe against it) | "
              f"{fmt_mmm(k['ratio'], unit='x')} the floor ({k['mean_ns'][1]:.0f} vs {k['floor_ns'][1]:.0f} ns/event); "
              f"irqlat -p pipe {fmt_mmm(x['clock_ratio'], unit='x')} floor+clock | same run | — |")
        x = a["irqlat -p idle"]
        w(f"| events not concerning a target ≤ 1.3x floor (idle target; sched_*/signal programs) | "
          f"{fmt_mmm(x['task_ratio'], unit='x')} ({x['task_mean_ns'][1]:.0f} ns/event) | "
          f"floor {x['task_floor_ns'][1]:.0f} ns/event | {verdict(x['task_ratio'][1] <= TARGETS['cost_nontarget'])} |")
        w(f"| (same run, all programs incl. system-wide irq tables; information) | {fmt_mmm(x['ratio'], unit='x')} "
          f"({x['mean_ns'][1]:.0f} ns/event) | floor {x['floor_ns'][1]:.0f} ns/event | — |")
    if "slowdown" in an:
        a = an["slowdown"]
        w(f"| sched-pipe slowdown tracing its PIDs ≤ 1.10x | {fmt_mmm(a['irqlat']['ratio'], '{:.3f}', 'x')} | "
          f"untraced {a['untraced_us'][1]:.3f} us/op; floor {a['floor']['ratio'][1]:.3f}x; "
          f"bpftrace runqlat {a['bpftrace']['ratio'][1]:.3f}x | {verdict(a['irqlat']['ratio'][1] <= TARGETS['slowdown'])} |")
    if "collector" in an:
        a = an["collector"]
        if "skipped" in a:
            w(f"| collector ≥ 20M events/s | skipped: record/report not built | — | — |")
        else:
            for k, what in (("real", "collector ≥ 20M events/s (one core; `record -a` of the mix"),
                            ("synthetic", "collector ≥ 20M events/s (one core; synthetic random stream, worst case"),
                            ("real-zstd", "(information: `record -a --compress zstd` of the mix")):
                b = a[k]
                judged = verdict(b["eps"][1] >= TARGETS["collector_eps"]) if k != "real-zstd" else "—"
                instr = f"; {b['instr_per_event']:.0f} instructions/event" if b.get("instr_per_event") else ""
                dinstr = (f"; {b['decompress_instr_per_event']:.0f} instructions/event"
                          if b.get("decompress_instr_per_event") else "")
                w(f"| {what}, {b['events']} events) | {fmt_mmm(b['eps'], '{:.3g}')} events/s{instr} | "
                  f"decompression alone {fmt_mmm(b['decompress_eps'], '{:.3g}')} events/s{dinstr} | {judged} |")
    if "live" in an:
        a = an["live"]
        w(f"| zero drops at the full mix, flat RSS | {a['dropped']} dropped of {a['received']}; RSS "
          f"{a['rss_start_mib']:.1f} → {a['rss_end_mib']:.1f} MiB | kernel {a['kernel_eps']:.0f} program runs/s "
          f"| {verdict(a['pass'])} |")
    if "scale" in an:
        a = an["scale"]
        w(f"| RSS ≤ 64 MiB with 1,000 threads (peak of every round, final report included) | "
          f"{fmt_mmm(a['maxrss_mib'], '{:.1f}', ' MiB')}; while tracing {fmt_mmm(a['rss_mib'], '{:.1f}', ' MiB')} | "
          f"ring {a['slowdown'][1]:.2f}x slower than untraced | "
          f"{verdict(a['maxrss_mib'][2] <= TARGETS['ring_rss_mib'])} |")
    if "stop" in an:
        a = an["stop"]
        w(f"| SIGTERM → exit median < 10 ms (trace) | {fmt_mmm(a['irqlat_ms'], unit=' ms')} | floor_loader "
          f"{fmt_mmm(a['floor_ms'], unit=' ms')} | {verdict(a['irqlat_ms'][1] < TARGETS['stop_ms'])} |")
        w(f"| SIGTERM → exit median < 10 ms (daemon) | {fmt_mmm(a['daemon_ms'], unit=' ms')} | floor_loader "
          f"{fmt_mmm(a['floor_ms'], unit=' ms')} | {verdict(a['daemon_ms'][1] < TARGETS['stop_ms'])} |")
    w("")

    if "cost" in an:
        a = an["cost"]
        w("## 1. In-kernel cost (kernel.bpf_stats_enabled=1, run_time_ns / run_cnt)")
        w("")
        w(f"Per round, each config is attached to the running mix, settles {SETTLE_SECONDS} s, and its programs' "
          f"counters are read from /proc/PID/fdinfo over a {COST_SECONDS:g} s window. "
          "The floor is the empty tp_btf programs of bench/floor.bpf.c on the same tracepoints. Mix mean = "
          "Σ run_time / Σ run_cnt of the config; its floor = the floor's ns/event per tracepoint (same round) "
          "weighted by the config's own event counts, so both are over the same events.")
        w("")
        w("| config | events/s (kernel) | mean ns/event | floor ns/event, same events | ratio | "
          "sched_*/signal only: ratio | floor+clock ns/event, same events | ratio to floor+clock | "
          "recursion misses | ring drops |")
        w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        w(f"| floor | {fmt_mmm(a['floor']['events_per_s'], '{:.0f}')} | — | — | 1 | 1 | — | — | "
          f"{a['floor']['misses']} | — |")
        if "floor+clock" in a:
            k = a["floor+clock"]
            w(f"| floor+clock | {fmt_mmm(k['events_per_s'], '{:.0f}')} | {fmt_mmm(k['mean_ns'], '{:.1f}')} | "
              f"{fmt_mmm(k['floor_ns'], '{:.1f}')} | {fmt_mmm(k['ratio'], unit='x')} | — | — | 1 | {k['misses']} | — |")
        for cfg in ("irqlat -p pipe", "irqlat -p idle", "irqlat -a"):
            x = a[cfg]
            w(f"| {cfg} | {fmt_mmm(x['events_per_s'], '{:.0f}')} | {fmt_mmm(x['mean_ns'], '{:.1f}')} | "
              f"{fmt_mmm(x['floor_ns'], '{:.1f}')} | {fmt_mmm(x['ratio'], unit='x')} | "
              f"{fmt_mmm(x['task_ratio'], unit='x')} | {fmt_mmm(x['clock_floor_ns'], '{:.1f}')} | "
              f"{fmt_mmm(x['clock_ratio'], unit='x')} | {x['misses']} | {x['dropped']} |")
        w("")
        w("`-p pipe`: both perf bench processes are targets; `-p idle`: the target is a sleeping process, so no "
          "task event concerns a target; `-a`: every task but irqlat is a target. `floor+clock`: the floor's "
          "programs each reading bpf_ktime_get_ns() once and dropping it (floor_loader --clock): the least a "
          "program pays that timestamps its events, as irqlat's sched and interrupt programs must (SPEC 5).")
        w("")
        w("Per program: median ns/event over rounds (ratio: median of per-round ratios to the floor; share: "
          "fraction of the config's total BPF time).")
        w("")
        w("| tracepoint | events/s (floor) | floor ns | floor+clock ns | -p pipe ns | ratio | share | "
          "-p idle ns | ratio | -a ns | ratio | share |")
        w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")

        def med(t, f="{:.0f}"):
            return f.format(t[1]) if t else "—"
        rows = sorted(a["rows"], key=lambda r: -r["irqlat -a"]["share"])
        for r in rows:
            p, i, al = r["irqlat -p pipe"], r["irqlat -p idle"], r["irqlat -a"]
            if not r["floor_eps"] and not p["eps"] and not al["eps"]:
                continue
            w(f"| {r['tp']} | {r['floor_eps']:.0f} | {med(r['floor_ns'])} | {med(r['clock_ns'])} | {med(p['ns'])} | "
              f"{med(p['ratio'], '{:.2f}x')} | {p['share'] * 100:.1f}% | {med(i['ns'])} | "
              f"{med(i['ratio'], '{:.2f}x')} | {med(al['ns'])} | {med(al['ratio'], '{:.2f}x')} | "
              f"{al['share'] * 100:.1f}% |")
        quiet = [r["tp"] for r in a["rows"] if not r["floor_eps"] and not r["irqlat -a"]["eps"]]
        if quiet:
            w("")
            w("No events in any window: " + ", ".join(quiet) + ".")
        w("")
        w(f"bpftool -j prog show printed run_time_ns/run_cnt with stats enabled: "
          f"{'yes' if res['cost']['bpftool_has_stats'] else 'no'}; the counters above are the same bpf_prog_info "
          "fields read from /proc/PID/fdinfo. Tracepoints attached by irqlat but not the floor or vice versa: "
          f"{', '.join(a['tp_mismatch']) or 'none'}.")
        w("")
        if "bucket" in a:
            b = a["bucket"]
            w(f"Histogram bucket alone (bench/bucket_cost: BPF_PROG_TEST_RUN of an XDP program bucketing 16 "
              f"xorshift durations of 0.5-128 us per run, minus the draws; {ROUNDS} rounds, order rotating): "
              f"irqlat_hist_bucket {fmt_mmm(b['irqlat_ns'], '{:.1f}', ' ns')} per bucket; a compare and branch per "
              f"halving step (irqlat's log2 before) {fmt_mmm(b['branchy_ns'], '{:.1f}', ' ns')}. Every interrupt "
              "exit and every wakeup-latency sample pays one.")
            w("")
    if "slowdown" in an:
        a = an["slowdown"]
        w("## 2. Target slowdown (`taskset -c 1 perf bench sched pipe`)")
        w("")
        w(f"perf's own usecs/op over -l {PIPE_LOOPS}, {PIPE_ROUNDS} rounds; kernel.bpf_stats_enabled=0. "
          "irqlat runs the benchmark as its "
          "command (`irqlat trace -f json -o F -- taskset -c 1 perf bench sched pipe ...`): both perf processes are "
          "targets from their first instruction, every table on. bpftrace: bench/runqlat.bt (system-wide "
          "runqlat, sched_wakeup/_new + sched_switch, histogram) with -c. Floor: floor_loader attached.")
        w("")
        w("| config | usecs/op | ratio to untraced (same round) |")
        w("| --- | --- | --- |")
        w(f"| untraced | {fmt_mmm(a['untraced_us'], '{:.3f}')} | 1 |")
        for c, label in (("floor", "floor (empty programs)"), ("irqlat", "irqlat trace -- perf"),
                         ("bpftrace", "bpftrace runqlat")):
            w(f"| {label} | {fmt_mmm(a[c]['us'], '{:.3f}')} | {fmt_mmm(a[c]['ratio'], '{:.3f}', 'x')} |")
        w("")
        w(f"irqlat against the floor (same round; information): {fmt_mmm(a['irqlat_vs_floor'], '{:.3f}', 'x')}.")
        w("")
        w(f"irqlat ring-buffer drops over all rounds: {res['slowdown']['irqlat_dropped']}.")
        w("")
    if "collector" in an:
        a = an["collector"]
        w("## 3. Collector throughput (`irqlat report`)")
        w("")
        if "skipped" in a:
            w(f"skipped: record/report not built ({a['why']}).")
        else:
            w("`taskset -c 0 irqlat report FILE -f json` on two recordings in the default format (zlib blocks): "
              "`irqlat record -a` of the workload mix (what a user records) and `build/bench/gen_recording` "
              "(random fields and timings: the worst case for the decoder and the per-thread state machine); "
              "for information a second `record -a` of the mix with `--compress zstd`. Baseline: "
              "`bench/decompress_only` decompressing the same blocks with the same libraries, alternating.")
            w("")
            cols = (("real", "`record -a` of the mix"), ("synthetic", "synthetic"),
                    ("real-zstd", "`record -a --compress zstd`"))
            w("| what | " + " | ".join(t for _, t in cols) + " |")
            w("| --- |" + " --- |" * len(cols))

            def row(label, f):
                w(f"| {label} | " + " | ".join(f(a[k]) for k, _ in cols) + " |")
            row("events", lambda b: str(b["events"]))
            row("bytes/event on disk (uncompressed blocks)",
                lambda b: f"{b['bytes_per_event']:.2f} ({(b['raw_bytes_per_event'] or 0):.1f})")
            row("irqlat report, wall, events/s", lambda b: fmt_mmm(b["eps"], "{:.3g}"))
            row("irqlat report, CPU time, events/s", lambda b: fmt_mmm(b["eps_cpu"], "{:.3g}"))
            row("decompression only, events/s", lambda b: fmt_mmm(b["decompress_eps"], "{:.3g}"))
            row("report time / decompression time", lambda b: fmt_mmm(b["ratio"], unit="x"))
            row("instructions per event, report (callgrind, one run; host-independent)",
                lambda b: f"{b['instr_per_event']:.0f}" if b.get("instr_per_event") else "n/a (valgrind missing or failed)")
            row("instructions per event, decompression only",
                lambda b: f"{b['decompress_instr_per_event']:.0f}" if b.get("decompress_instr_per_event")
                else "n/a (valgrind missing or failed)")
            w("")
            r, y = a["real"], a["synthetic"]
            w(f"Recorded: {r['line']}; {a['real-zstd']['line']}; generated: {y['line']}.")
            for k in ("real", "synthetic"):
                prof = a[k].get("profile")
                if prof:
                    w("")
                    w(f"Profile of one extra run on the {k} recording (`perf record -F 2000`, not timed): by DSO: " +
                      ", ".join(f"{n} {p:.1f}%" for p, n in prof["dso"]) + ". Top symbols:")
                    w("")
                    w("| % | symbol |")
                    w("| --- | --- |")
                    for p, n in prof["symbols"]:
                        w(f"| {p:.1f} | `{n}` |")
        w("")
    if "live" in an:
        a = an["live"]
        w(f"## 4. Live rate (`irqlat trace -a -d {LIVE_SECONDS}s` of the mix)")
        w("")
        w("| figure | value |")
        w("| --- | --- |")
        w(f"| records received | {a['received']} ({a['received_eps']:.0f}/s over {a['seconds']:.1f} s) |")
        if a.get("collector_cpu") is not None:
            w(f"| collector CPU (utime+stime / wall) | {a['collector_cpu'] * 100:.1f}% of one CPU |")
        w(f"| dropped / late / missed | {a['dropped']} / {a['late']} / {a['missed']} (lossy: {a['lossy']}) |")
        if a["kernel_eps"]:
            w(f"| baseline: kernel program runs on the same tracepoints | {a['kernel_eps']:.0f}/s; "
              f"records per run {a['streamed_fraction']:.3f} |")
        if "cost" in an:
            w(f"| baseline: the mix's tracepoint hits under the floor (section 1) | "
              f"{fmt_mmm(an['cost']['floor']['events_per_s'], '{:.0f}')}/s |")
        w(f"| VmRSS at start (1 s) → end | {a['rss_start_mib']:.1f} → {a['rss_end_mib']:.1f} MiB "
          f"(max sampled {a['rss_max_mib']:.1f}; peak VmHWM incl. final report {a['maxrss_mib']:.1f} MiB) |")
        w(f"| flat (end ≤ start + 2 MiB) | {a['flat']}: {a['rss_growth_mib']:+.1f} MiB over "
          f"{a['rss_growth_s']:.0f} s; {a['threads']} threads in the report (the dd loop starts ~10 processes/s) |")
        w(f"| VmRSS by mapping near the end | {fmt_breakdown(a['breakdown'])} |")
        w("")
        w("VmRSS samples (s: MiB): " + ", ".join(f"{t:.0f}: {k / 1024:.1f}" for t, k in res["live"]["rss"]))
        w("")
    if "scale" in an:
        a = an["scale"]
        w(f"## 5. Scale (`thread_ring --threads {RING_THREADS} --tokens {RING_TOKENS}`, `irqlat trace -p`)")
        w("")
        w("| figure | value |")
        w("| --- | --- |")
        w(f"| ring passes/s untraced (baseline) | {fmt_mmm(a['untraced_rate'], '{:.0f}')} |")
        w(f"| ring passes/s traced | {fmt_mmm(a['traced_rate'], '{:.0f}')} |")
        w(f"| slowdown (untraced rate / traced rate, same round) | {fmt_mmm(a['slowdown'], unit='x')} |")
        w(f"| irqlat peak RSS (VmHWM, incl. final report) | {fmt_mmm(a['maxrss_mib'], '{:.1f}', ' MiB')} |")
        w(f"| irqlat VmRSS while tracing (max sampled) | {fmt_mmm(a['rss_mib'], '{:.1f}', ' MiB')} |")
        w(f"| irqlat VmRSS by mapping at the end of the window (round with the highest peak) | "
          f"{fmt_breakdown(a['breakdown'])} |")
        w(f"| records received/s | {fmt_mmm(a['eps'], '{:.0f}')} |")
        w(f"| threads in the report / drops | {fmt_mmm(a['threads'], '{:.0f}')} / {a['dropped']} |")
        w(f"| irqlat's counted interval (window {RING_SECONDS:g} s + {SETTLE_SECONDS:g} s settle + stop) | "
          f"{fmt_mmm(a['traced_s'], '{:.2f}', ' s')} |")
        w("")
    if "stop" in an:
        a = an["stop"]
        w("## 6. Self stop time (SIGTERM → exit, under the mix)")
        w("")
        w(f"bench/stop_time: waits for the ready line, sleeps a random 300–2000 ms, pidfd_send_signal(SIGTERM), "
          f"polls the pidfd until exit; {a['n']} repetitions each, alternating.")
        w("")
        w("| what | ms |")
        w("| --- | --- |")
        w(f"| irqlat trace -a: SIGTERM → exit | {fmt_mmm(a['irqlat_ms'])} |")
        w(f"| irqlat trace -a: SIGTERM → 'stopped tracing' line | {fmt_mmm(a['stopped_line_ms'])} |")
        w(f"| irqlat daemon (attached to the sched pipe and to an irqlat trace -a): SIGTERM → exit "
          f"| {fmt_mmm(a['daemon_ms'])} (max {a['daemon_max_ms']:.2f}) |")
        w(f"| floor_loader (32 programs): SIGTERM → exit (baseline) | {fmt_mmm(a['floor_ms'])} |")
        w(f"| ratio irqlat / floor (same repetition) | {fmt_mmm(a['ratio'], unit='x')} |")
        w("")
        sh = a.get("shared") or {}
        if "first" in sh and "second" in sh:
            w(f"Another tracer on the same tracepoints (diagnostic, not in the figures above; floor_loader, "
              f"alternating, timed from Python): irqlat trace -a attached first, SIGTERM → exit "
              f"{fmt_mmm(sh['first'], unit=' ms')}; attached second {fmt_mmm(sh['second'], unit=' ms')}. When the "
              f"first of a tracepoint's two probes detaches, the kernel waits for an RCU grace period "
              f"(kernel/tracepoint.c, the 2 → 1 transition) under its global tracepoints mutex: one grace period "
              f"per shared tracepoint, in series, which no order of closes in irqlat avoids.")
            w("")
        p = a.get("profile") or {}
        if p.get("error"):
            w(f"Stop profile unavailable: {p['error']}")
            w("")
        elif p:
            w(f"Where the time goes (bench/stop_profile.bt, {p['reps']} extra stops under the mix, not in the "
              f"figures above): SIGTERM → exit {', '.join(f'{x:.1f}' for x in p['exit_ms'])} ms; → exit_group "
              f"{', '.join(f'{x:.1f}' for x in p['exit_group_ms'])} ms; → last thread's sched_process_exit "
              f"{', '.join(f'{x:.1f}' for x in p['process_exit_ms'])} ms. System calls after SIGTERM, per stop:")
            w("")
            w("| syscall | ms | calls |")
            w("| --- | --- | --- |")
            for name, ms, n in p["syscalls"]:
                w(f"| {name} | {ms:.2f} | {n:.0f} |")
            w("")
    return "\n".join(L) + "\n"


def main():
    if os.geteuid() != 0:
        print("bench: must run as root (BPF, bpf_stats_enabled, tracefs)", file=sys.stderr)
        return 2
    for exe in (IRQLAT, FLOOR, UDP_BLAST, THREAD_RING, STOP_TIME, BUCKET_COST):
        if not os.access(exe, os.X_OK):
            print(f"bench: {exe} is missing: run `make bench`", file=sys.stderr)
            return 2
    for tool in ("perf", "bpftrace", "bpftool", "dd"):
        if not shutil.which(tool):
            print(f"bench: {tool} is not installed (make deps)", file=sys.stderr)
            return 2
    cmd = " ".join(f"{k}={os.environ[k]}" for k in sorted(os.environ) if k.startswith("BENCH_")) + " make bench"
    cmd = cmd.strip()
    stats_before = get_bpf_stats()
    tmpdir = tempfile.mkdtemp(prefix="irqlat-bench.", dir="/var/tmp")
    res = {"machine": machine(), "quick": QUICK}
    an = {}
    errors = {}
    res["loadavg_start"] = open("/proc/loadavg").read().strip()
    t0 = time.monotonic()

    def on_signal(sig, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    try:
        steps = [(1, "cost", section_cost, analyze_cost), (2, "slowdown", section_slowdown, analyze_slowdown),
                 (3, "collector", section_collector, analyze_collector), (4, "live", section_live, analyze_live),
                 (5, "scale", section_scale, analyze_scale), (6, "stop", section_stop, analyze_stop)]
        for n, key, run, analyze in steps:
            if n not in SECTIONS:
                continue
            try:
                run(tmpdir, res)
                an[key] = analyze(res)
            except BenchError as e:
                log(f"section {n} failed: {e}")
                errors[n] = str(e)
            cleanup_children()
    finally:
        cleanup_children()
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(stats_before + "\n")
        shutil.rmtree(tmpdir, ignore_errors=True)
    res["elapsed_s"] = time.monotonic() - t0
    res["loadavg_end"] = open("/proc/loadavg").read().strip()
    res["errors"] = errors
    text = render(res, an, cmd)
    text += (f"\nSuite time: {res['elapsed_s']:.0f} s. Every sample: "
             f"{os.path.relpath(RAW_OUT, ROOT)} (not kept in the tree).\n")
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write(text)
    with open(RAW_OUT, "w") as f:
        json.dump({"results": res, "analysis": an}, f, indent=1, default=str)
    print(text)
    log(f"wrote {os.path.relpath(OUT, ROOT)} ({res['elapsed_s']:.0f} s)")
    return 1 if errors else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        sys.exit(130)
