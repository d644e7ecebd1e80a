"""SPEC section 8: every bad input gets one clear line on stderr and a
non-zero exit (2 for usage errors), never a crash, hang or empty table."""
import subprocess

import pytest

from conftest import IRQLAT, free_pid, run_irqlat, target


def one_line_error(res, status, *words):
    lines = [l for l in res.stderr.splitlines() if l.strip()]
    assert res.returncode == status, (res.returncode, res.stderr)
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("irqlat: "), lines[0]
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert res.stdout == "", res.stdout


@pytest.fixture
def sleeper():
    p = subprocess.Popen(["sleep", "60"])
    yield p
    p.kill()
    p.wait()


@pytest.mark.parametrize("args,words", [
    (["trace", "-p", "PID_NONE", "-d", "1s"], ["does not exist"]),
    (["trace", "-p", "abc"], ["abc"]),
    (["trace", "-t", "PID_NONE"], ["does not exist"]),
    (["trace", "-a", "-d", "10x"], ["10x"]),
    (["trace", "-a", "-d", "-5s"], ["-5s"]),
    (["trace", "-a", "-C", "99"], ["99"]),
    (["trace", "-a", "-C", "1-0"], ["1-0"]),
    (["trace", "-a", "-f", "xml"], ["xml"]),
    (["trace", "-d", "1s"], ["target"]),
    (["trace", "--bogus-option"], ["bogus"]),
    (["frobnicate"], ["frobnicate"]),
    (["trace", "-p", "SLEEPER", "--cancel", "bogus:spec"], ["bogus:spec"]),
    (["trace", "-p", "SLEEPER", "--cancel", "uprobe:/nonexistent/bin:foo", "--done", "exit"], ["/nonexistent/bin"]),
    (["trace", "-p", "SLEEPER", "--cancel", "uprobe:no_such_symbol_xyz", "--done", "exit"], ["no_such_symbol_xyz"]),
    (["trace", "-p", "SLEEPER", "--cancel", "usdt:nope:probe", "--done", "exit"], ["nope:probe"]),
    (["trace", "-a", "-d", "1s", "-o", "/nonexistent-dir/out.json"], ["/nonexistent-dir/out.json"]),
    (["trace", "-d", "1s", "--", "/no/such/command"], ["/no/such/command"]),
])
def test_usage_errors(args, words, sleeper):
    args = [a.replace("PID_NONE", str(free_pid())).replace("SLEEPER", str(sleeper.pid)) for a in args]
    res = run_irqlat(args, timeout=30)
    one_line_error(res, 2, *words)


def test_not_root_is_refused():
    # Drop every capability but stay uid 0: the tool must notice CAP_BPF is gone.
    res = subprocess.run(["setpriv", "--inh-caps=-all", "--bounding-set=-all", IRQLAT, "trace", "-a", "-d", "1s"],
                         capture_output=True, text=True, timeout=30)
    one_line_error(res, 1, "root")


def test_not_root_user_is_refused():
    res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", IRQLAT, "trace", "-a", "-d", "1s"],
                         capture_output=True, text=True, timeout=30)
    one_line_error(res, 1, "root")


def test_pid_exiting_mid_trace_keeps_its_data():
    # The target runs ~0.5 s and exits; the trace stops by itself and keeps the rows.
    p = subprocess.Popen([target("sleeper"), "--cpu", "0", "--seconds", "1"], stdout=subprocess.DEVNULL)
    res = run_irqlat(["trace", "-p", str(p.pid), "-d", "20s", "-f", "json"], timeout=40)
    p.wait()
    assert res.returncode == 0, res.stderr
    import json
    doc = json.loads(res.stdout)
    rows = [t for t in doc["threads"] if t["pid"] == p.pid]
    assert rows, doc["threads"]
    assert rows[0]["exited"] is True
    assert rows[0]["wakeups"] > 100  # 1 ms sleeps for ~1 s
