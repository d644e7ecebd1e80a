"""irqlat daemon and irqlat ctl (issue #5): targets attached and detached at
run time, dumps that follow SPEC section 6, windows equal to what `trace`
sees and to the target's own stamps, /metrics checked by promtool, hostile
clients, signals, PID reuse. Oracles: the targets' own counters and stamps,
a second tracer (`irqlat trace`) on the same run, promtool."""
import json
import os
import re
import resource
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import urllib.request

import pytest

from conftest import (IRQLAT, Tracer, block_device_irq, check_spec_json, delta, direct_write, example, free_pid,
                      json_lines, read_interrupts, run_irqlat, target, wait_for)
from test_windows import check_sum_invariant, inside_brackets, match_windows, own_pairs


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_until_exit(args, timeout=30):
    """Runs a command that must exit by itself: one still running after
    `timeout` is killed (subprocess.run does) and the test fails."""
    try:
        return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail("still running after %d s, killed: %s" % (timeout, " ".join(map(str, args))))


class Daemon:
    def __init__(self, extra=(), metrics=True, binary=IRQLAT):
        self.dir = tempfile.mkdtemp(prefix="irqlat-d")
        self.sock = os.path.join(self.dir, "irqlat.sock")
        self.pidfile = os.path.join(self.dir, "irqlat.pid")
        # The free port can be taken between free_port() and the daemon's
        # bind: that start is repeated with another, at most twice.
        for attempt in range(3):
            self.port = free_port() if metrics else None
            args = ["daemon", "--socket", self.sock, "--pidfile", self.pidfile] + list(extra)
            if metrics:
                args += ["--metrics", "127.0.0.1:%d" % self.port]
            try:
                self.tracer = Tracer(args, binary=binary)
                break
            except AssertionError as e:
                if not metrics or attempt == 2 or "in use" not in str(e):
                    raise

    def ctl(self, *args, check=True, timeout=30):
        res = run_irqlat(["ctl", "--socket", self.sock] + list(args), timeout=timeout)
        if check:
            assert res.returncode == 0, (args, res.returncode, res.stdout, res.stderr)
        return res

    def dump(self):
        return json.loads(self.ctl("dump", "-f", "json").stdout)

    def status(self):
        return json.loads(self.ctl("status", "-f", "json").stdout)

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.sock)
        return s

    def request(self, payload):
        """Sends raw bytes on a fresh connection; returns the parsed reply."""
        with self.connect() as s:
            s.sendall(payload)
            return json.loads(read_line(s))

    def metrics(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port, timeout=10) as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/plain")
            return r.read().decode()

    def stop(self, sig=signal.SIGTERM):
        self.tracer.stop(sig)
        return self.tracer.wait(30)

    def close(self):
        if self.tracer.proc.poll() is None:
            self.tracer.proc.kill()
            self.tracer.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def read_line(s):
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf.decode()


def closed(s):
    """The daemon closed its end (EOF, or a reset because input was left unread)."""
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


@pytest.fixture
def daemon():
    d = Daemon()
    yield d
    d.close()


def rows_of(doc, pid):
    return [t for t in doc["threads"] if t["pid"] == pid]


def start_sleeper(seconds, go):
    return subprocess.Popen([target("sleeper"), "--seconds", str(seconds), "--sleep-us", "2000",
                             "--wait-file", go], stdout=subprocess.PIPE, text=True)


def test_attach_two_detach_one_dump_follows_spec(daemon):
    go = os.path.join(daemon.dir, "go")
    a, b = start_sleeper(2, go), start_sleeper(30, go)  # B outlives the test (killed below)
    try:
        assert "attached pid %d" % a.pid in daemon.ctl("attach", str(a.pid)).stdout
        daemon.ctl("attach", str(b.pid))
        open(go, "w").close()
        time.sleep(1.0)
        assert "detached pid %d" % b.pid in daemon.ctl("detach", str(b.pid)).stdout
        # Rows retire once the records before the detach are in (ms).
        def b_detached():
            rows = rows_of(daemon.dump(), b.pid)
            return rows and all(r["detached"] for r in rows)
        wait_for(b_detached, what="B's rows marked detached")
        b_rows = rows_of(daemon.dump(), b.pid)
        assert b_rows and all(r["detached"] for r in b_rows), b_rows
        a_own = json.loads(a.communicate(timeout=10)[0])
        # The exit check runs every 250 ms.
        wait_for(lambda: (a.pid, "exited") in {(t["pid"], t["state"]) for t in daemon.status()["targets"]},
                 what="A to be seen exited")
        doc = daemon.dump()
        check_spec_json(doc)
        # B is no longer traced: its rows are kept, frozen, while it still runs.
        assert b.poll() is None
        assert rows_of(doc, b.pid) == b_rows
        # A ran to its end while attached: every loop iteration's wakeup was
        # seen, and no more than the process's own voluntary switches.
        (a_row,) = rows_of(doc, a.pid)
        print("A: tool wakeups %d, own iterations %d, own nvcsw %d" % (a_row["wakeups"], a_own["iterations"],
                                                                       a_own["nvcsw"]))
        assert a_own["iterations"] <= a_row["wakeups"] <= a_own["nvcsw"] + 1
        assert a_row["exited"] and not a_row["detached"]
        states = {(t["pid"], t["state"]) for t in daemon.status()["targets"]}
        assert states == {(a.pid, "exited"), (b.pid, "detached")}
        # Detaching twice, or a PID never attached, is an error reply.
        res = daemon.ctl("detach", str(b.pid), check=False)
        assert res.returncode == 1 and "is not attached" in res.stderr
    finally:
        for p in (a, b):
            p.kill()
            p.wait()


def test_windows_equal_trace_and_own_stamps(daemon):
    """The same cancel_loop run, seen by the daemon and by `irqlat trace -p`
    at once: both give the same windows, and both match the program's own
    CLOCK_MONOTONIC stamps."""
    go = os.path.join(daemon.dir, "go")
    prog = subprocess.Popen([example("cancel_loop"), "--threads", "2", "--rounds", "4", "--mode", "sleep",
                             "--run-ms", "100", "--wait-file", go], stdout=subprocess.PIPE, text=True)
    try:
        out = daemon.ctl("attach", str(prog.pid)).stdout
        assert "usdt:irqlat:cancel" in out  # the default markers of a binary that has them
        tr = Tracer(["trace", "-p", str(prog.pid), "-f", "json"])
        open(go, "w").close()
        lines = json_lines(prog.communicate(timeout=60)[0])
        traced = tr.json()
        wait_for(lambda: len([w for w in daemon.dump()["windows"]["list"] if w["pid"] == prog.pid])
                 >= traced["windows"]["count"], what="the daemon's windows")
        doc = daemon.dump()
    finally:
        prog.kill()
        prog.wait()
    check_spec_json(doc)
    mine = [w for w in doc["windows"]["list"] if w["pid"] == prog.pid]
    doc["windows"]["list"] = mine
    doc["windows"]["count"] = len(mine)
    errors = match_windows(doc, lines, 8)
    match_windows(traced, lines, 8)
    assert len(mine) == len(traced["windows"]["list"]) == len(errors)
    pairs = own_pairs(lines)
    for d, t in zip(mine, traced["windows"]["list"]):
        # Two tracers stamp the same marker hits: microseconds apart, unless
        # the thread lost its CPU between the two uprobe handlers (a vCPU
        # descheduled by the host shows up as tens of microseconds). Then the
        # program's own bracket around the marker is as wide, so the bound is
        # 50 us or that bracket, whichever is wider.
        assert d["tid"] == t["tid"]
        p = next(p for p in pairs if inside_brackets(d, p))
        start_tol = max(50_000, p["cancel"]["ts"] - p["cancel"]["ts_before"] + 2_000)
        end_tol = max(50_000, p["done"]["ts"] - p["done"]["ts_before"] + 2_000)
        assert abs(d["start_ns"] - t["start_ns"]) < start_tol and abs(d["end_ns"] - t["end_ns"]) < end_tol, (d, t, p)


def test_signal_window_through_daemon(daemon):
    prog = subprocess.Popen([target("sigterm_cleanup"), "--cleanup", "sleep", "--cleanup-ms", "20"],
                            stdout=subprocess.PIPE, text=True)
    try:
        ready = json.loads(prog.stdout.readline())
        out = daemon.ctl("attach", str(ready["pid"]), "--cancel", "signal:TERM").stdout
        assert "signal:TERM -> exit" in out
        prog.send_signal(signal.SIGTERM)
        own = {l["event"]: l["ts"] for l in json_lines(prog.communicate(timeout=10)[0])}
    finally:
        prog.kill()
        prog.wait()
    wait_for(lambda: any(w["pid"] == prog.pid for w in daemon.dump()["windows"]["list"]), what="the window")
    doc = daemon.dump()
    check_sum_invariant(doc)
    ws = [w for w in doc["windows"]["list"] if w["pid"] == prog.pid]
    assert len(ws) == 1, doc["windows"]
    w = ws[0]
    assert w["start_ns"] <= own["sigterm"] and w["end_ns"] >= own["exit"]
    assert w["delay_ns"] - (own["exit"] - own["sigterm"]) < 5_000_000
    assert w["blocked_ns"] >= 0.5 * w["delay_ns"]


def parse_metrics(text):
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$', line)
        assert m, line
        samples[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return samples


def test_metrics_pass_promtool_and_buckets_are_cumulative(daemon):
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: make deps installs the prometheus package"
    # One target accounted in the kernel (no windows), one streamed (windows).
    prog = subprocess.Popen([target("sleeper"), "--seconds", "2"], stdout=subprocess.PIPE, text=True)
    streamed = subprocess.Popen([target("sleeper"), "--seconds", "2"], stdout=subprocess.PIPE, text=True)
    try:
        daemon.ctl("attach", str(prog.pid))
        daemon.ctl("attach", str(streamed.pid), "--cancel", "signal:TERM", "--done", "exit")
        direct_write(500)
        time.sleep(0.5)
        text = daemon.metrics()
    finally:
        for p in (prog, streamed):
            p.kill()
            p.wait()
    res = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert res.returncode == 0 and not res.stdout.strip() and not res.stderr.strip(), (res.stdout, res.stderr)
    samples = parse_metrics(text)
    for name in ("irqlat_hardirq_duration_seconds", "irqlat_softirq_duration_seconds",
                 "irqlat_target_sched_latency_seconds"):
        series = {}
        for (n, labels), v in samples.items():
            if n == name + "_bucket":
                le = re.search(r'le="([^"]+)"', labels).group(1)
                key = re.sub(r',?le="[^"]+"', "", labels)
                series.setdefault(key, []).append((float("inf") if le == "+Inf" else float(le), v))
        assert series, name
        for key, buckets in series.items():
            buckets.sort()
            counts = [v for _, v in buckets]
            assert counts == sorted(counts), (name, key, buckets)
            assert buckets[-1][0] == float("inf")
            assert buckets[-1][1] == samples[(name + "_count", key)], (name, key)
    for p in (prog, streamed):
        assert any(n == "irqlat_target_sched_latency_seconds_count" and 'pid="%d"' % p.pid in l and v > 100
                   for (n, l), v in samples.items()), p.pid
    assert samples[("irqlat_events_received_total", "")] > 0
    assert samples[("irqlat_events_dropped_total", "")] == 0
    # The daemon checks device rows against /proc/interrupts: the shortfall
    # is a sample (a few at most, see docs/measurement.md), not left out.
    device = sum(v for (n, l), v in samples.items()
                 if n == "irqlat_hardirq_duration_seconds_count" and 'irq=""' not in l)
    assert device > 0
    assert 0 <= samples[("irqlat_irq_unseen_total", "")] <= max(10, 0.05 * device), samples
    assert ("irqlat_irq_unmatched_total", "") in samples


def test_malformed_clients_get_errors_and_daemon_keeps_serving():
    d = Daemon(extra=["--client-timeout", "1s"], metrics=False)
    try:
        rss0 = d.status()["memory"]["rss_bytes"]
        cases = [
            (b"{not json\n", "bad JSON"),
            (b'["status"]\n', "JSON object"),
            (b'{"cmd":"explode"}\n', "unknown cmd"),
            (b'{"cmd":"attach"}\n', "needs \"pid\""),
            (b'{"cmd":"attach","pid":-4}\n', "'pid' must be"),
            (b'{"cmd":"attach","pid":"12"}\n', "'pid' must be"),
            (b'{"cmd":"detach","pid":1,"x":1}\n', "unknown key"),
            (b'{"cmd":"status","cmd":"reset"}\n', 'repeated key "cmd"'),
            (b'{"cmd":"dump","format":"xml"}\n', "'format' must be"),
            (b'{"cmd":"attach","pid":%d}\n' % free_pid(), "does not exist"),
            (b'{"cmd":"attach","pid":1,"cancel":"bogus:x"}\n', "bad --cancel"),
            (os.urandom(3000).replace(b"\n", b"x") + b"\n", ""),
            (b"\xff\xfe\x00\x01garbage\n", "bad JSON"),
        ]
        for payload, message in cases:
            reply = d.request(payload)
            assert reply["ok"] is False and message in reply["error"], (payload[:40], reply)
        # A huge line: an error reply, then the connection is closed.
        with d.connect() as s:
            try:
                s.sendall(b"x" * (200 * 1024))
            except BrokenPipeError:
                pass
            reply = json.loads(read_line(s))
            assert reply["ok"] is False and "longer than" in reply["error"]
            assert closed(s)
        # A client that never sends is closed after --client-timeout.
        with d.connect() as s:
            reply = read_line(s)  # the socket's own timeout fails a daemon that never closes it
            assert "idle" in reply
            assert closed(s)
        # Several requests on one connection, pipelined: one reply each, in order.
        with d.connect() as s:
            s.sendall(b'{"cmd":"status"}\n{"cmd":"nope"}\n{"cmd":"status"}\n')
            f = s.makefile("rb")
            replies = [json.loads(f.readline()) for _ in range(3)]
            assert [r["ok"] for r in replies] == [True, False, True]
        # 1000 clients at once, all connected before any sends: every one
        # gets its reply.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
        clients = [d.connect() for _ in range(1000)]
        for s in clients:
            s.sendall(b'{"cmd":"status"}\n')
        ok = sum(json.loads(read_line(s))["ok"] for s in clients)
        for s in clients:
            s.close()
        assert ok == 1000
        st = d.status()
        assert st["control"]["errors"] >= len(cases)
        # Bounded memory: the huge line and 1000 clients left nothing behind.
        print("daemon RSS %.1f -> %.1f MiB" % (rss0 / 2**20, st["memory"]["rss_bytes"] / 2**20))
        assert st["memory"]["rss_bytes"] < rss0 + 16 * 2**20
        assert d.stop() == 0
    finally:
        d.close()


def test_socket_is_root_only(daemon):
    mode = os.stat(daemon.sock)
    assert stat.S_ISSOCK(mode.st_mode) and stat.S_IMODE(mode.st_mode) == 0o600 and mode.st_uid == 0
    res = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                          IRQLAT, "ctl", "--socket", daemon.sock, "status"], capture_output=True, text=True,
                         timeout=10)
    assert res.returncode == 1
    assert len(res.stderr.strip().splitlines()) == 1 and "Permission denied" in res.stderr, res.stderr


def json_docs_in(text):
    """The JSON documents in a log: each starts with '{' at a line start."""
    decoder, docs = json.JSONDecoder(), []
    for m in re.finditer(r"^\{", text, re.M):
        try:
            docs.append(decoder.raw_decode(text, m.start())[0])
        except ValueError:
            pass
    return docs


def proc_status(path):
    fields = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def test_every_thread_has_the_reduced_capabilities(daemon):
    """Capabilities and no_new_privs are per thread: the HTTP threads of
    --metrics must not keep what the main thread dropped."""
    prog = subprocess.Popen([target("sleeper"), "--seconds", "30"], stdout=subprocess.PIPE, text=True)
    try:
        daemon.ctl("attach", str(prog.pid))
        daemon.metrics()  # the HTTP threads are up and have served
        pid = daemon.tracer.proc.pid
        main = proc_status("/proc/%d/status" % pid)
        mine = proc_status("/proc/self/status")
        assert int(main["CapEff"], 16) & ~int(mine["CapEff"], 16) == 0
        assert main["CapEff"] != mine["CapEff"], "the daemon dropped nothing"
        assert main["NoNewPrivs"] == "1"
        tids = os.listdir("/proc/%d/task" % pid)
        assert len(tids) > 1, "no HTTP threads"
        for tid in tids:
            st = proc_status("/proc/%d/task/%s/status" % (pid, tid))
            for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs"):
                assert st[key] == main[key], (tid, st.get("Name"), key, st[key], main[key])
    finally:
        prog.kill()
        prog.wait()


def test_stop_signals_dump_on_exit_and_cleanup():
    out_dir = tempfile.mkdtemp(prefix="irqlat-e")
    dump_file = os.path.join(out_dir, "final.json")
    log_file = os.path.join(out_dir, "irqlat.log")
    d = Daemon(extra=["--dump-on-exit", dump_file, "-f", "json", "--log", log_file], metrics=False)
    prog = subprocess.Popen([target("sleeper"), "--seconds", "30"], stdout=subprocess.PIPE, text=True)
    try:
        with open(d.pidfile) as f:
            assert int(f.read()) == d.tracer.proc.pid
        d.ctl("attach", str(prog.pid))
        time.sleep(0.5)
        # SIGHUP reopens the log: after a rotation the new file gets the lines.
        os.rename(log_file, log_file + ".1")
        d.tracer.proc.send_signal(signal.SIGHUP)
        # SIGUSR1: a dump to the log, in --format (json here).
        d.tracer.proc.send_signal(signal.SIGUSR1)
        deadline = time.time() + 5
        while time.time() < deadline:
            text = open(log_file).read() if os.path.exists(log_file) else ""
            if json_docs_in(text):
                break
            time.sleep(0.1)
        assert "log reopened" in text and "TARGET THREADS" not in text, text
        (usr1,) = json_docs_in(text)
        check_spec_json(usr1)
        assert rows_of(usr1, prog.pid), usr1["threads"]
        assert "attached pid %d" % prog.pid in open(log_file + ".1").read()
        assert d.stop() == 0
        assert not os.path.exists(d.sock) and not os.path.exists(d.pidfile)
        with open(dump_file) as f:
            doc = json.load(f)
        check_spec_json(doc)
        (row,) = rows_of(doc, prog.pid)
        assert row["wakeups"] > 100
        assert "stopped in" in open(log_file).read()
    finally:
        prog.kill()
        prog.wait()
        d.close()
        shutil.rmtree(out_dir, ignore_errors=True)


def test_stop_is_not_held_off_by_pipelining_clients():
    """Clients that pipeline thousands of dumps (and read the replies) do not
    delay SIGTERM: requests wait whenever a stop is pending. The old loop
    answered every buffered request first: seconds."""
    import threading
    d = Daemon(metrics=False)
    prog = subprocess.Popen([target("sleeper"), "--seconds", "30"], stdout=subprocess.PIPE, text=True)
    clients, readers = [], []
    try:
        d.ctl("attach", str(prog.pid))
        time.sleep(0.3)
        request = b'{"cmd":"dump","format":"json"}\n'
        blob = request * (60 * 1024 // len(request))  # within one 64 KiB read-ahead
        replies = [0] * 20  # per client, counted as they arrive

        def read_all(s, i):
            try:
                while True:
                    chunk = s.recv(1 << 16)
                    if not chunk:
                        break
                    replies[i] += chunk.count(b"\n")
            except OSError:
                pass

        for i in range(20):
            s = d.connect()
            s.settimeout(30)
            clients.append(s)
            readers.append(threading.Thread(target=read_all, args=(s, i), daemon=True))
            readers[-1].start()
        for s in clients:
            s.sendall(blob)
            s.sendall(blob)
        time.sleep(0.5)  # the daemon is busy answering
        before = sum(replies)
        d.tracer.proc.send_signal(signal.SIGTERM)
        rc = d.tracer.wait(30)
        for t in readers:
            t.join(10)
        answered = sum(replies)
        asked = 40 * (len(blob) // len(request))
        print("SIGTERM with 20 clients pipelining: %d dumps answered before it, %d after, %d asked"
              % (before, answered - before, asked))
        assert rc == 0
        assert answered < asked, "the clients were not still pipelining"
        # Replies counted after the signal are the ones already written (in
        # the socket buffers) or in progress, not the rest of the queue: the
        # old loop answered every buffered request first.
        assert answered - before < 0.1 * (asked - before), (before, answered, asked)
        assert not os.path.exists(d.sock) and not os.path.exists(d.pidfile)
    finally:
        for s in clients:
            s.close()
        prog.kill()
        prog.wait()
        d.close()


def fork_with_pid(pid):
    """A process with exactly this PID, via ns_last_pid (root); None if
    another fork took it first."""
    for _ in range(50):
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(pid - 1))
        p = subprocess.Popen([target("sleeper"), "--seconds", "5"], stdout=subprocess.DEVNULL)
        if p.pid == pid:
            return p
        p.kill()
        p.wait()
    return None


def test_exited_target_is_kept_and_reused_pid_is_not_traced(daemon):
    go = os.path.join(daemon.dir, "go")
    first = start_sleeper(0.5, go)  # starts its 0.5 s once attached
    pid = first.pid
    daemon.ctl("attach", str(pid))
    open(go, "w").close()
    first.communicate(timeout=10)
    wait_for(lambda: [t["state"] for t in daemon.status()["targets"]] == ["exited"], what="the target to exit")
    rows = rows_of(daemon.dump(), pid)
    assert rows and all(r["exited"] for r in rows)
    res = daemon.ctl("detach", str(pid), check=False)
    assert res.returncode == 1 and "is not attached (exited; its rows stay until reset)" in res.stderr, res.stderr
    second = fork_with_pid(pid)
    if second is None:
        pytest.fail("could not get pid %d again through ns_last_pid" % pid)
    try:
        time.sleep(0.5)
        # Same PID, new process: not a target until attached again.
        assert rows_of(daemon.dump(), pid) == rows
        daemon.ctl("attach", str(pid))
        targets = daemon.status()["targets"]
        assert [t["state"] for t in targets] == ["exited", "attached"]
        assert targets[0]["start_time"] != targets[1]["start_time"]
        time.sleep(0.5)
        live = [r for r in rows_of(daemon.dump(), pid) if not r["exited"]]
        assert live and live[0]["wakeups"] > 50
        res = daemon.ctl("attach", str(pid), check=False)
        assert res.returncode == 1 and "already attached" in res.stderr
    finally:
        second.kill()
        second.wait()


def test_reset_clears_tables_and_forgets_gone_targets(daemon):
    prog = subprocess.Popen([target("sleeper"), "--seconds", "30"], stdout=subprocess.PIPE, text=True)
    # Ended by the test once attached (a short sleep could exit before the
    # attach on a loaded machine).
    gone = subprocess.Popen(["sleep", "30"])
    try:
        daemon.ctl("attach", str(prog.pid))
        daemon.ctl("attach", str(gone.pid))
        gone.kill()
        gone.wait()
        # The exit check runs every 250 ms.
        wait_for(lambda: (gone.pid, "exited") in {(t["pid"], t["state"]) for t in daemon.status()["targets"]},
                 what="the killed target to be seen exited")
        # Enough counted that the reset's drop shows (~1000 wakeups a second).
        wait_for(lambda: sum(r["wakeups"] for r in rows_of(daemon.dump(), prog.pid)) > 200,
                 what="200 wakeups of the sleeper")
        before = rows_of(daemon.dump(), prog.pid)[0]["wakeups"]
        dumped = json.loads(daemon.ctl("dump", "-f", "json", "--reset").stdout)
        assert rows_of(dumped, prog.pid)[0]["wakeups"] >= before
        after = rows_of(daemon.dump(), prog.pid)[0]["wakeups"]
        assert after < before, (before, after)
        assert [t["pid"] for t in daemon.status()["targets"]] == [prog.pid]
        assert daemon.ctl("reset").stdout.strip() == "tables reset"
    finally:
        prog.kill()
        prog.wait()


def test_back_to_back_dumps_with_reset_lose_no_interrupt(daemon):
    """`dump --reset` zeroes the tables at the instant it takes them, before
    formatting: the disk's interrupts in back-to-back dumps add up to
    /proc/interrupts over their span. (Zeroing after formatting lost every
    interrupt of each dump's formatting: with dumps back to back, a large
    share of the run.)"""
    irq = block_device_irq()
    fd, path = tempfile.mkstemp(prefix="irqlat-test-dd-", dir="/var/tmp")
    os.close(fd)
    dd = subprocess.Popen(["sh", "-c", "while :; do dd if=/dev/zero of=%s bs=4k count=2000 oflag=direct "
                           "conv=notrunc 2>/dev/null || exit 1; done" % path], start_new_session=True)
    request = b'{"cmd":"dump","format":"json","reset":true}\n'

    def dump_reset():
        reply = daemon.request(request)
        assert reply["ok"], reply
        doc = json.loads(reply["output"])
        return sum(h["count"] for h in doc["hardirqs"] if h["irq"] == irq and h["cpu"] is None)
    try:
        time.sleep(0.3)
        outer0 = read_interrupts()
        dump_reset()  # counting restarts here
        inner0 = read_interrupts()
        counts = []
        end = time.monotonic() + 2
        while time.monotonic() < end:
            counts.append(dump_reset())
        inner1 = read_interrupts()
        counts.append(dump_reset())
        outer1 = read_interrupts()
    finally:
        os.killpg(dd.pid, signal.SIGKILL)
        dd.wait()
        os.unlink(path)
    inner = sum(delta(inner0, inner1)[str(irq)])
    outer = sum(delta(outer0, outer1)[str(irq)])
    print("IRQ %d: %d dumps hold %d, /proc between them %d (outer %d)" % (irq, len(counts), sum(counts), inner, outer))
    assert len(counts) > 100 and inner > 1000  # back to back, and the disk interrupted all along
    assert 0.99 * inner <= sum(counts) <= outer


def test_daemon_and_ctl_bad_input():
    d = Daemon(metrics=False)
    try:
        # A second daemon on the same socket is refused and leaves it alone.
        res = run_irqlat(["daemon", "--socket", d.sock], timeout=30)
        assert res.returncode == 1 and "another irqlat daemon is listening" in res.stderr
        assert d.status()["pid"] == d.tracer.proc.pid
        for args, message in ((["attach", str(free_pid())], "does not exist"),
                              (["attach", str(os.getpid()), "--cancel", "usdt:irqlat:nope",
                                "--done", "usdt:irqlat:done"], "bad --cancel"),
                              (["detach", "1"], "not attached")):
            res = d.ctl(*args, check=False)
            assert res.returncode == 1 and message in res.stderr, (args, res.stderr)
            assert len(res.stderr.strip().splitlines()) == 1
    finally:
        d.stop()
        d.close()
    res = run_irqlat(["ctl", "--socket", "/nonexistent/irqlat.sock", "status"])
    assert res.returncode == 1 and "cannot connect" in res.stderr and "is `irqlat daemon` running" in res.stderr
    res = run_irqlat(["daemon", "--socket", "/nonexistent/dir/irqlat.sock"])
    assert res.returncode == 1 and "cannot create control socket" in res.stderr
    res = run_irqlat(["daemon", "--pidfile", "/nonexistent/dir/x.pid"])
    assert res.returncode == 2 and "cannot write --pidfile" in res.stderr
    res = run_irqlat(["ctl", "attach", "abc"])
    assert res.returncode == 2


def test_daemon_as_a_user_fails_with_one_line():
    # Not "cannot set nice" first: the privilege check comes before any
    # start-up step that needs the privileges (and before any file is made:
    # the user could create the socket in this directory).
    d = tempfile.mkdtemp(prefix="irqlat-user-", dir="/tmp")
    try:
        os.chmod(d, 0o777)
        res = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", IRQLAT, "daemon",
                              "--socket", os.path.join(d, "s.sock"), "--nice", "-5"],
                             capture_output=True, text=True, timeout=30)
        assert res.returncode == 1, res.stderr
        assert res.stderr.count("\n") == 1 and "must run as root" in res.stderr, res.stderr
        assert os.listdir(d) == []
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_failed_start_leaves_no_files_and_keeps_the_running_pidfile():
    d = Daemon(metrics=False)
    try:
        pidfile2, dump2 = os.path.join(d.dir, "second.pid"), os.path.join(d.dir, "second.json")
        res = run_irqlat(["daemon", "--socket", d.sock, "--pidfile", pidfile2, "--dump-on-exit", dump2],
                         timeout=30)
        assert res.returncode == 1 and "another irqlat daemon is listening" in res.stderr, res.stderr
        assert not os.path.exists(pidfile2) and not os.path.exists(dump2)
        # Every line has its level; the reason is one line.
        lines = res.stderr.strip().splitlines()
        assert all(re.match(r"irqlat: (error|warning|info|debug): ", l) for l in lines), lines
        assert lines[-1].startswith("irqlat: error: another irqlat daemon is listening on ")
        # The running daemon's own pidfile is left as it is.
        res = run_irqlat(["daemon", "--socket", d.sock, "--pidfile", d.pidfile], timeout=30)
        assert res.returncode == 1
        with open(d.pidfile) as f:
            assert f.read() == "%d\n" % d.tracer.proc.pid
        assert d.status()["pid"] == d.tracer.proc.pid
        assert d.stop() == 0
        assert not os.path.exists(d.pidfile) and not os.path.exists(d.sock)
        # The daemon's own log lines have levels; only the readiness line
        # (scripts wait for "irqlat: tracing") and dumps have none.
        for line in d.tracer.stderr_lines:
            assert line.startswith("irqlat: tracing ") or re.match(r"irqlat: (error|warning|info|debug): ",
                                                                    line), line
    finally:
        d.close()


@pytest.mark.parametrize("kind", ["fifo", "device"])
@pytest.mark.parametrize("option", ["--pidfile", "--dump-on-exit"])
def test_an_output_that_is_not_a_regular_file_is_refused_at_once(tmp_path, option, kind):
    """A FIFO would block the daemon's open() for good (SIGTERM is blocked
    for its signalfd), and a device cannot be truncated: either is one usage
    error line naming the file, before anything is loaded, and the file is
    left as it was (a private /dev/null node: not unlinked)."""
    path = tmp_path / ("out." + kind)
    if kind == "fifo":
        os.mkfifo(path)
    else:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    sock = tmp_path / "d.sock"
    res = run_until_exit([IRQLAT, "daemon", "--socket", sock, option, path])
    assert res.returncode == 2, res.stderr
    assert res.stderr.splitlines() == ["irqlat: error: cannot write %s '%s': not a regular file" % (option, path)]
    mode = os.stat(path).st_mode
    assert stat.S_ISFIFO(mode) if kind == "fifo" else stat.S_ISCHR(mode)
    assert not sock.exists()


def test_long_line_with_newline_and_overflowing_number_get_clean_errors():
    d = Daemon(metrics=False)
    try:
        # 65,600 bytes and then a newline: over the 64 KiB cap all the same.
        line = b'{"cmd":"status","x":"' + b"y" * 65600 + b'"}\n'
        with d.connect() as s:
            s.sendall(line)
            reply = json.loads(read_line(s))
            assert reply["ok"] is False and "longer than 65536" in reply["error"], reply
            assert closed(s)
        for payload in (b'{"pid":1e400}\n', b'{"cmd":"attach","pid":1e400}\n'):
            reply = d.request(payload)
            assert reply["ok"] is False and "json.exception" not in reply["error"], reply
            assert "out of range" in reply["error"], reply
        assert d.status()["pid"] == d.tracer.proc.pid
    finally:
        d.stop()
        d.close()


def set_bpf_stats(value):
    with open("/proc/sys/kernel/bpf_stats_enabled", "r+") as f:
        old = f.read().strip()
        f.seek(0)
        f.write(value)
    return old


def test_status_fields_and_ctl_table_forms():
    old_stats = set_bpf_stats("1")
    d = Daemon(metrics=False)
    prog = subprocess.Popen([target("sleeper"), "--seconds", "30"], stdout=subprocess.PIPE, text=True)
    try:
        # With windows, so its events are streamed (records received).
        d.ctl("attach", str(prog.pid), "--cancel", "signal:TERM", "--done", "exit")
        wait_for(lambda: d.status()["events"]["received"] > 0, what="records of the sleeper")
        first = d.status()
        time.sleep(0.5)
        direct_write(300)
        wait_for(lambda: d.status()["events"]["received"] > first["events"]["received"], what="more records")
        st = d.status()
        assert st["pid"] == d.tracer.proc.pid
        assert st["uptime_ns"] > first["uptime_ns"] + 400_000_000, (first["uptime_ns"], st["uptime_ns"])
        assert st["events"]["received"] > first["events"]["received"] > 0
        assert {"dropped", "late", "missed"} <= set(st["events"])
        assert st["memory"]["rss_bytes"] > 0 and st["cpu"]["user_s"] + st["cpu"]["system_s"] > 0
        assert st["bpf_stats"] is True
        assert st["programs"]
        for p in st["programs"]:
            assert {"name", "run_cnt", "run_time_ns", "mean_ns", "recursion_misses"} <= set(p), p
        ran = [p for p in st["programs"] if p["run_cnt"] > 0]
        assert ran and all(p["mean_ns"] > 0 for p in ran), st["programs"]
        assert [(t["pid"], t["state"]) for t in st["targets"]] == [(prog.pid, "attached")]
        # The table form of the same status.
        text = d.ctl("status").stdout
        assert text.startswith("irqlat daemon pid %d (" % d.tracer.proc.pid), text
        assert re.search(r"^events: \d+ received, \d+ dropped, \d+ late, \d+ missed$", text, re.M), text
        assert re.search(r"^ +%d sleeper +attached +windows signal:TERM -> exit *$" % prog.pid, text, re.M), text
        table = text.split("\nBPF programs:\n")[1].split("\n\n")[0].splitlines()
        assert table[0].split() == ["program", "runs", "mean"]
        assert len(table) == len(st["programs"]) + 1
        # Columns line up, whatever the length of the names.
        assert len({len(l) for l in table}) == 1, table
        for line, p in zip(table[1:], st["programs"]):
            assert line.split()[0] == p["name"] and int(line.split()[1]) >= p["run_cnt"], (line, p)
        # dump -f table and -f csv through the daemon.
        text = d.ctl("dump", "-f", "table").stdout
        assert "TARGET THREADS" in text and re.search(r"\b%d\b.*sleeper" % prog.pid, text), text
        import csv
        import io
        sections, name = {}, None
        for row in csv.reader(io.StringIO(d.ctl("dump", "-f", "csv").stdout)):
            if row and row[0].startswith("# "):
                name = row[0][2:]
                sections[name] = []
            elif row:
                sections[name].append(row)
        assert {"summary", "hardirqs", "softirqs", "threads", "windows"} <= set(sections), sections.keys()
        header, *rows = sections["threads"]
        rows = [dict(zip(header, r)) for r in rows]
        mine = [r for r in rows if r["pid"] == str(prog.pid)]
        assert mine and mine[0]["comm"] == "sleeper" and int(mine[0]["wakeups"]) > 50, mine
    finally:
        prog.kill()
        prog.wait()
        d.stop()
        d.close()
        set_bpf_stats(old_stats)


def test_sigint_stops_cleanly_and_sigusr1_writes_a_table_by_default():
    d = Daemon(metrics=False)
    prog = subprocess.Popen([target("sleeper"), "--seconds", "30"], stdout=subprocess.PIPE, text=True)
    try:
        d.ctl("attach", str(prog.pid))
        time.sleep(0.3)
        d.tracer.proc.send_signal(signal.SIGUSR1)
        deadline = time.time() + 5
        while time.time() < deadline and not any("TARGET THREADS" in l for l in d.tracer.stderr_lines):
            time.sleep(0.05)
        assert any("TARGET THREADS" in l for l in d.tracer.stderr_lines), d.tracer.stderr_lines
        assert d.stop(signal.SIGINT) == 0
        assert not os.path.exists(d.sock) and not os.path.exists(d.pidfile)
        assert any("stopping on Interrupt" in l for l in d.tracer.stderr_lines), d.tracer.stderr_lines
    finally:
        prog.kill()
        prog.wait()
        d.close()


def listening_tcp_inodes():
    inodes = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[3] == "0A":  # TCP_LISTEN
                    inodes.add(fields[9])
    return inodes


def socket_inodes(pid):
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", link)
        if m:
            inodes.add(m.group(1))
    return inodes


HTTP_LIBRARIES = ("irqlat-metrics.so", "libcpp-httplib", "libssl", "libcrypto", "libbrotli")


def http_libraries(pid):
    """Which of the metrics plugin's libraries the process has mapped."""
    maps = open("/proc/%d/maps" % pid).read()
    return {lib for lib in HTTP_LIBRARIES if "/" + lib in maps}


def run_metrics_daemon(binary, tmp_path):
    """A daemon with --metrics that is expected to fail: its one error line."""
    sock, pidfile = tmp_path / "d.sock", tmp_path / "d.pid"
    res = run_until_exit([binary, "daemon", "--socket", sock, "--pidfile", pidfile,
                          "--metrics", "127.0.0.1:%d" % free_port()], timeout=60)
    assert res.returncode != 0, res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("irqlat: error:")]
    assert len(errors) == 1 and errors[0] == res.stderr.splitlines()[-1], res.stderr
    assert not sock.exists() and not pidfile.exists()  # nothing left behind
    return errors[0]


def test_binary_links_no_http_library_and_a_missing_plugin_is_a_clean_error(tmp_path):
    """irqlat itself needs none of cpp-httplib, OpenSSL or brotli (each run
    would pay for loading them); a daemon asked for --metrics without the
    plugin next to it says so in one line, exits non-zero, leaves no files."""
    needed = subprocess.run(["readelf", "-d", IRQLAT], capture_output=True, text=True, check=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]", needed)
    assert needed and not [n for n in needed if n.startswith(HTTP_LIBRARIES)], needed
    lone = tmp_path / "irqlat"
    shutil.copy(IRQLAT, lone)
    error = run_metrics_daemon(lone, tmp_path)
    assert error.startswith("irqlat: error: cannot serve metrics: the plugin irqlat-metrics.so is not installed")
    assert str(tmp_path / "irqlat-metrics.so") in error
    assert sorted(os.listdir(tmp_path)) == ["irqlat"]


FOREIGN_PLUGIN = r"""
extern "C" __attribute__((visibility("default"))) const char irqlat_metrics_abi[] = "irqlat_metrics_server_v1 0.0.0 other";
extern "C" __attribute__((visibility("default"))) void* irqlat_metrics_server_v1() { __builtin_trap(); }
"""


@pytest.mark.parametrize("case", ["world-writable", "other-owner", "symlink", "foreign-build", "fifo", "not-elf"])
def test_an_untrusted_or_foreign_plugin_is_refused(tmp_path, case):
    """The root daemon loads only a plugin that root or the binary's owner
    wrote and nobody else can change, and only one from its own build: a
    copy of irqlat run from a shared directory must not run someone else's
    code. Each case is one error line, before anything is called."""
    binary = tmp_path / "irqlat"
    shutil.copy(IRQLAT, binary)
    plugin = tmp_path / "irqlat-metrics.so"
    real = os.path.join(os.path.dirname(IRQLAT), "irqlat-metrics.so")
    if case == "symlink":
        os.symlink(real, plugin)
    elif case == "foreign-build":
        src = tmp_path / "foreign.cpp"
        src.write_text(FOREIGN_PLUGIN)
        subprocess.run(["g++", "-shared", "-fPIC", "-o", str(plugin), str(src)], check=True, timeout=60)
        os.chmod(plugin, 0o644)
    elif case == "fifo":
        os.mkfifo(plugin, 0o644)  # an open() without O_NONBLOCK waits for a writer forever
    elif case == "not-elf":
        plugin.write_text("not a shared object\n" * 100)
        os.chmod(plugin, 0o644)
    else:
        shutil.copy(real, plugin)
        if case == "world-writable":
            os.chmod(plugin, 0o666)
        else:
            os.chown(plugin, 65534, 65534)
            os.chmod(plugin, 0o644)
    error = run_metrics_daemon(binary, tmp_path)
    assert error.startswith("irqlat: error: cannot serve metrics: %s" % plugin), error
    expected = {"world-writable": "writable by group or others; not loaded",
                "other-owner": "owned by uid 65534, neither root nor the owner of irqlat; not loaded",
                "symlink": "a symbolic link; not loaded",
                "foreign-build": "is from another build of irqlat (irqlat_metrics_server_v1 0.0.0 other; "
                                 "this one: irqlat_metrics_server_v1 ",
                "fifo": "not a regular file; not loaded",
                "not-elf": "%s: invalid ELF header; not loaded" % plugin}[case]
    assert expected in error, error


def test_metrics_are_off_by_default():
    d = Daemon(metrics=False)
    try:
        pid = d.tracer.proc.pid
        mine = socket_inodes(pid)
        assert mine, "the control socket, at least"
        assert not mine & listening_tcp_inodes()
        # No HTTP threads: the main thread and the stop worker (SCHED_FIFO) only.
        others = [int(t) for t in os.listdir("/proc/%d/task" % pid) if int(t) != pid]
        assert [os.sched_getscheduler(t) for t in others] == [os.SCHED_FIFO], "threads without --metrics"
        # Nor the HTTP libraries: they are in the plugin, loaded for --metrics only.
        assert not http_libraries(pid)
        # And with --metrics the same checks see the listener and the plugin.
        m = Daemon()
        try:
            assert socket_inodes(m.tracer.proc.pid) & listening_tcp_inodes()
            assert {"irqlat-metrics.so", "libcpp-httplib"} <= http_libraries(m.tracer.proc.pid)
        finally:
            m.stop()
            m.close()
    finally:
        d.stop()
        d.close()


def test_a_second_daemon_on_the_same_metrics_port_is_refused(daemon):
    """cpp-httplib's default SO_REUSEPORT would let a second daemon bind the
    port too and take part of the scrapes: it must fail with one line
    instead, and every scrape still reach the first daemon."""
    other = tempfile.mkdtemp(prefix="irqlat-d")
    try:
        sock, pidfile = os.path.join(other, "d.sock"), os.path.join(other, "d.pid")
        res = run_until_exit([IRQLAT, "daemon", "--socket", sock, "--pidfile", pidfile,
                              "--metrics", "127.0.0.1:%d" % daemon.port], timeout=60)
        assert res.returncode == 1, res.stderr
        errors = [line for line in res.stderr.splitlines() if line.startswith("irqlat: error:")]
        assert errors == ["irqlat: error: cannot serve metrics on 127.0.0.1:%d: Address already in use"
                          % daemon.port] and errors[0] == res.stderr.splitlines()[-1], res.stderr
        assert not os.listdir(other)  # nothing left behind
    finally:
        shutil.rmtree(other, ignore_errors=True)
    before = daemon.status()["scrapes"]
    for _ in range(20):
        assert "irqlat_scrapes_total" in daemon.metrics()
    assert daemon.status()["scrapes"] == before + 20


PEER_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
try:
    s.sendall(b'{"cmd":"status"}\n')
except OSError:
    pass
buf = b""
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
except OSError:
    pass
sys.stdout.write(buf.decode(errors="replace"))
"""


def test_non_root_peer_is_refused_even_through_a_loosened_socket(daemon):
    """SO_PEERCRED: with the socket file 0666 and its directory open, a
    non-root client connects, and still gets an error reply and a close."""
    os.chmod(daemon.dir, 0o755)
    os.chmod(daemon.sock, 0o666)
    res = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                          "/usr/bin/python3", "-c", PEER_CLIENT, daemon.sock], capture_output=True, text=True,
                         timeout=20)
    assert res.returncode == 0, res.stderr  # it did connect
    lines = res.stdout.splitlines()
    assert len(lines) <= 1, lines
    if lines:
        reply = json.loads(lines[0])
        assert reply["ok"] is False and "root only" in reply["error"], reply
        assert "status" not in reply
    # The daemon keeps serving root.
    assert daemon.status()["pid"] == daemon.tracer.proc.pid


# Programs only streamed targets (those attached with windows) read.
STREAMING_PROGRAMS = {"sched_wakeup", "sched_migrate_task", "signal_generate"}


def streaming_attached(names):
    # By suffix: "tp_btf_sched_wakeup" is one, "tp_btf_sched_wakeup_new" is not.
    return {tp for tp in STREAMING_PROGRAMS if any(n.endswith("_" + tp) for n in names)}


def test_streaming_programs_wait_for_the_first_windowed_target():
    """Targets without windows are accounted in the kernel, so the programs
    only streamed timelines read are not attached (no event pays for them,
    and a stop detaches fewer) until a target with windows arrives; then
    they are, and its window closes."""
    from test_interrupts import attached_programs
    d = Daemon(metrics=False)
    plain = subprocess.Popen([target("sleeper"), "--seconds", "30"], stdout=subprocess.PIPE, text=True)
    windowed = subprocess.Popen(["sleep", "30"])
    try:
        pid = d.tracer.proc.pid
        names = attached_programs(pid)
        assert any(n.endswith("_sched_switch") for n in names), names
        assert streaming_attached(names) == set(), names
        assert any(n.endswith("_sched_process_exec") for n in names), names  # every target's tid may change
        d.ctl("attach", str(plain.pid))
        assert streaming_attached(attached_programs(pid)) == set()
        d.ctl("attach", str(windowed.pid), "--cancel", "signal:TERM", "--done", "exit")
        assert streaming_attached(attached_programs(pid)) == STREAMING_PROGRAMS
        windowed.terminate()
        windowed.wait()
        deadline = time.time() + 10
        while time.time() < deadline and d.dump()["windows"]["count"] < 1:
            time.sleep(0.1)
        w = d.dump()["windows"]
        assert w["count"] == 1 and w["list"][0]["pid"] == windowed.pid, w
        assert rows_of(d.dump(), plain.pid), "the plain target lost its row"
    finally:
        for p in (plain, windowed):
            p.kill()
            p.wait()
        d.close()


def test_busy_threads_attached_with_windows_are_streamed_once():
    """A thread attached with windows while it is switching hundreds of
    thousands of times a second is streamed: one row per thread, counting
    its wakeups. (Its target entry used to go in before its flags; an event
    between the two gave it a kernel account, and with it a second, frozen
    row and no timeline for its windows.)"""
    d = Daemon(metrics=False)
    try:
        for _ in range(20):
            prog = subprocess.Popen([target("pingpong"), "--rounds", "3000000"],
                                    stdout=subprocess.DEVNULL)
            try:
                deadline = time.time() + 10
                while len(os.listdir("/proc/%d/task" % prog.pid)) < 3 and time.time() < deadline:
                    time.sleep(0.01)
                d.ctl("attach", str(prog.pid), "--cancel", "signal:TERM", "--done", "exit")
                wait_for(lambda: sum(r["wakeups"] > 100 for r in rows_of(d.dump(), prog.pid)) >= 2,
                         what="wakeups of ping and pong")
                rows = rows_of(d.dump(), prog.pid)
                tids = [r["tid"] for r in rows]
                assert len(tids) == 3 and len(set(tids)) == 3, rows
                busy = [r for r in rows if r["tid"] != prog.pid]  # ping and pong
                assert len(busy) == 2 and all(r["wakeups"] > 100 for r in busy), rows
                d.ctl("detach", str(prog.pid))
            finally:
                prog.kill()
                prog.wait()
    finally:
        d.close()


def test_stop_runs_on_a_realtime_thread_without_cap_sys_nice():
    """The daemon drops CAP_SYS_NICE, yet its stop (mostly the kernel
    detaching programs, which sleeps on IPIs and then needs a CPU again)
    runs at SCHED_FIFO 1: on the one thread that took that priority before
    the drop and dropped its own capabilities too. The others stay normal."""
    log_dir = tempfile.mkdtemp(prefix="irqlat-rt")
    log_file = os.path.join(log_dir, "irqlat.log")
    d = Daemon(extra=["--log", log_file], metrics=False)
    try:
        pid = d.tracer.proc.pid
        policies = []
        for tid in os.listdir("/proc/%d/task" % pid):
            cap_eff = int(proc_status("/proc/%d/task/%s/status" % (pid, tid))["CapEff"], 16)
            assert not cap_eff & (1 << 23), "thread %s kept CAP_SYS_NICE" % tid
            policies.append(os.sched_getscheduler(int(tid)))
        assert sorted(policies) == sorted([os.SCHED_OTHER, os.SCHED_FIFO]), policies
        assert d.stop() == 0
        text = open(log_file).read()
        assert "target(s) attached, at SCHED_FIFO 1" in text, text
    finally:
        d.close()
        shutil.rmtree(log_dir, ignore_errors=True)


def test_bpf_statistics_are_opt_in():
    """Off by default (two clock reads per program run); --bpf-stats turns
    them on and status shows each program's runs."""
    old_stats = set_bpf_stats("0")
    prog = subprocess.Popen([target("sleeper"), "--seconds", "30"], stdout=subprocess.PIPE, text=True)
    try:
        for extra, on in (([], False), (["--bpf-stats"], True)):
            d = Daemon(extra=extra, metrics=False)
            try:
                d.ctl("attach", str(prog.pid))
                time.sleep(0.5)
                st = d.status()
                assert st["bpf_stats"] is on, (extra, st["bpf_stats"])
                ran = [p for p in st["programs"] if p["run_cnt"] > 0]
                assert bool(ran) is on, (extra, st["programs"])
            finally:
                d.close()
    finally:
        prog.kill()
        prog.wait()
        set_bpf_stats(old_stats)


def test_ctl_beyond_the_client_limit_prints_the_daemons_reason():
    # The daemon answers the client over its limit with a reason and closes;
    # ctl, whose request may then meet a closed socket (EPIPE), prints that
    # reason, not "Broken pipe".
    # Held clients must outlive the test's slowest step under load.
    daemon = Daemon(extra=["--client-timeout", "300s"], metrics=False)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    held = []
    base = len(socket_inodes(daemon.tracer.proc.pid))  # listening sockets
    try:
        for _ in range(1024):
            held.append(daemon.connect())
        wait_for(lambda: len(socket_inodes(daemon.tracer.proc.pid)) >= base + 1024, what="1024 clients accepted")
        for _ in range(3):
            res = daemon.ctl("status", check=False)
            assert res.returncode == 1, res.stderr
            assert res.stderr == "irqlat: daemon: too many clients (at most 1024); try again\n", res.stderr
        for s in held:
            s.close()
        held = []
        wait_for(lambda: daemon.ctl("status", check=False).returncode == 0, what="ctl status served again")
    finally:
        for s in held:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        daemon.stop()
        daemon.close()


@pytest.mark.parametrize("verb,reply,words", [
    (["dump", "-f", "json"], b'{"ok":true}\n', "no valid 'output'"),
    (["status"], b'{"ok":true}\n', "no valid 'status'"),
    (["status", "-f", "json"], b'{"ok":true,"status":{"pid":1}}\n', "no valid 'events'"),
    (["detach", "1"], b'{"ok":true,"target":{"pid":"one"}}\n', "fields of the wrong type"),
    (["status"], b'not json\n', "not JSON"),
])
def test_ctl_refuses_an_incomplete_reply(verb, reply, words, tmp_path):
    """A daemon of another version (or a broken one) that answers ok with
    too little must not pass for one that answered: one error line, exit 1,
    nothing on stdout."""
    path = str(tmp_path / "fake.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)

    def serve():
        conn, _ = srv.accept()
        with conn:
            if read_line(conn).endswith("\n"):  # the whole request
                conn.sendall(reply)
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        res = run_until_exit([IRQLAT, "ctl", "--socket", path] + verb)
    finally:
        t.join(5)
        srv.close()
    lines = [l for l in res.stderr.splitlines() if l.strip()]
    assert res.returncode == 1 and len(lines) == 1 and words in lines[0], (res.returncode, res.stderr)
    assert res.stdout == ""
