"""Target selection and CPU filtering: --comm, -t, -C, and a process that
forks children under `-- COMMAND`."""
import json
import signal
import subprocess
import time

from conftest import Tracer, delta, out_path, read_interrupts, run_irqlat, target


def sleeper(seconds=30):  # outlives the trace however long loading takes; killed by each test
    return subprocess.Popen([target("sleeper"), "--cpu", "1", "--seconds", str(seconds)],
                            stdout=subprocess.DEVNULL)


def test_comm_selects_running_processes():
    p = sleeper()
    try:
        time.sleep(0.2)
        res = run_irqlat(["trace", "--comm", "sleeper", "-d", "1s", "-f", "json"], timeout=30)
        assert res.returncode == 0, res.stderr
        rows = [t for t in json.loads(res.stdout)["threads"] if t["pid"] == p.pid]
        assert rows and rows[0]["wakeups"] > 100, rows
    finally:
        p.kill()
        p.wait()


def test_tid_selects_one_thread():
    p = sleeper()
    try:
        time.sleep(0.2)
        res = run_irqlat(["trace", "-t", str(p.pid), "-d", "1s", "-f", "json"], timeout=30)
        assert res.returncode == 0, res.stderr
        threads = json.loads(res.stdout)["threads"]
        assert [t["tid"] for t in threads] == [p.pid]
        assert threads[0]["wakeups"] > 100
    finally:
        p.kill()
        p.wait()


def test_cpu_filter_counts_only_those_cpus():
    # A hog on CPU 1 keeps its tick running: an idle NOHZ CPU may take only a
    # handful of timer interrupts a second (CI once saw 4).
    hog = subprocess.Popen([target("cpuhog"), "--cpu", "1"])
    snaps = {}
    try:
        time.sleep(0.1)
        snaps["outer0"] = read_interrupts()
        # Stopped by us, after the inner snapshot: irqlat counts over all of
        # [inner0, inner1] (a -d stop would let irqlat's real-time stop work
        # delay the reader of the second snapshot).
        tr = Tracer(["trace", "-a", "-C", "1", "-f", "json"],
                    on_start=lambda: snaps.update(inner0=read_interrupts()))
        time.sleep(1)
        snaps["inner1"] = read_interrupts()
        tr.stop(signal.SIGINT)
        doc = tr.json()
        snaps["outer1"] = read_interrupts()
    finally:
        hog.terminate()
        hog.wait()
    rows = doc["hardirqs"] + doc["softirqs"]
    assert any(r["cpu"] == 1 for r in rows), "no interrupts on CPU 1 in 1 s"
    assert all(r["cpu"] in (None, 1) for r in rows), [r for r in rows if r["cpu"] not in (None, 1)]
    loc = [r for r in doc["hardirqs"] if r["name"] == "LOC" and r["cpu"] is None]
    # CPU 1's LOC count: most of /proc's over the traced second (the tick
    # edge, see test_interrupts.within_tick_edge), none past irqlat's run.
    inner = delta(snaps["inner0"], snaps["inner1"])["LOC"][1]
    outer = delta(snaps["outer0"], snaps["outer1"])["LOC"][1]
    assert inner > 100, "CPU 1's tick did not run: %d LOC" % inner
    assert loc and inner - max(0.02 * inner, 10) <= loc[0]["count"] <= outer, (loc, inner, outer)


def test_command_children_are_followed():
    # sh forks two sleeper children: both are targets (traced from exec).
    script = "%s --cpu 1 --seconds 0.5 & %s --cpu 0 --seconds 0.5 & wait" % (target("sleeper"), target("sleeper"))
    out = out_path("children")
    res = run_irqlat(["trace", "-f", "json", "-o", out, "--", "sh", "-c", script], timeout=30)
    assert res.returncode == 0, res.stderr
    with open(out) as f:
        doc = json.load(f)
    busy = [t for t in doc["threads"] if t["comm"] == "sleeper" and t["wakeups"] > 50]
    assert len(busy) == 2, doc["threads"]
    assert all(t["exited"] for t in busy)


def test_command_starts_with_default_signal_state():
    """irqlat blocks SIGINT/SIGTERM outside its ring-buffer wait and ignores
    SIGPIPE; the command it starts must get neither (both survive exec)."""
    res = run_irqlat(["trace", "-f", "json", "-o", out_path("sigstate"), "--", "cat", "/proc/self/status"],
                     timeout=30)
    assert res.returncode == 0, res.stderr
    fields = dict(line.split(":\t", 1) for line in res.stdout.splitlines() if ":\t" in line)
    assert int(fields["SigBlk"], 16) == 0, fields["SigBlk"]
    assert not int(fields["SigIgn"], 16) & (1 << (signal.SIGPIPE - 1)), fields["SigIgn"]


def test_a_failed_command_is_named_after_its_tables_and_a_clean_one_is_not(tmp_path):
    # Tables of a run whose command failed look like any others: trace and
    # record say how it ended (their own exit status stays 0).
    for args in (["trace", "-f", "json"], ["record", "-o", str(tmp_path / "r.rec"), "-f", "json"]):
        for cmd, end in ((["sh", "-c", "exit 3"], "exited with status 3"),
                         (["sh", "-c", "kill -9 $$"], "was killed by signal 9 (Killed)")):
            res = run_irqlat(args + ["--"] + cmd, timeout=60)
            assert res.returncode == 0, res.stderr
            lines = res.stderr.splitlines()
            said = [l for l in lines if l.startswith("irqlat: command '")]
            assert len(said) == 1 and said[0].endswith(") " + end), res.stderr
            assert lines.index(said[0]) > lines.index("irqlat: stopped tracing"), res.stderr
            assert json.loads(res.stdout)["threads"], res.stdout[:300]
        res = run_irqlat(args + ["--", "true"], timeout=60)
        assert res.returncode == 0 and "irqlat: command '" not in res.stderr, res.stderr
