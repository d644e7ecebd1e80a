"""SPEC section 8: every bad input gets one clear line on stderr and a
non-zero exit (2 for usage errors), never a crash, hang or empty table."""
import hashlib
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import IRQLAT, Tracer, example, free_pid, out_path, run_irqlat, target, wait_for


def one_line_error(res, status, *words):
    lines = [l for l in res.stderr.splitlines() if l.strip()]
    assert res.returncode == status, (res.returncode, res.stderr)
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("irqlat: "), lines[0]
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert res.stdout == "", res.stdout


REC = os.path.join(os.path.dirname(__file__), "..", "data", "cancel_loop.rec")


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
    (["trace", "-d", "1s", "--", "/no/such/command"], ["/no/such/command", "No such file or directory"]),
    (["trace", "-d", "1s", "--", "/etc/passwd"], ["'/etc/passwd': not executable"]),
    (["trace", "-d", "1s", "--", "/tmp"], ["'/tmp': is a directory"]),
    # A FIFO is refused, not waited on for a writer that never comes.
    (["trace", "-p", "SLEEPER", "--cancel", "uprobe:FIFO:foo", "--done", "exit"], ["FIFO", "not a regular file"]),
    (["trace", "--cancel", "uprobe:main+99999999", "--done", "exit", "--", "CANCEL_LOOP"],
     ["+99999999", "past the end of 'main'"]),
    (["trace", "-p", "SLEEPER", "--cancel", "uprobe:/usr/bin/sleep:main+-1", "--done", "exit"], ["'+-1'"]),
    # Recordings and tables named as a FIFO: refused at once, never waited on.
    (["trace", "-a", "-d", "1s", "-o", "FIFO"], ["FIFO", "nobody reads"]),
    (["record", "-a", "-d", "1s", "-o", "FIFO"], ["FIFO", "not a regular file"]),
    (["report", "FIFO"], ["FIFO", "not a regular file"]),
    (["report", "REC", "-o", "FIFO"], ["FIFO", "nobody reads"]),
    (["record", "-a", "-d", "1s", "-o", "-"], ["-o -", "not standard output"]),
    # Lists with an empty item (a stray comma) are refused, like -C's.
    (["trace", "-p", "1,,2"], ["'1,,2'", "empty item"]),
    (["trace", "-p", "SLEEPER,"], ["empty item"]),
    (["trace", "-t", ",1"], ["empty item"]),
    # A mistyped offset is kept in the symbol (C++ operators have a '+'): say so.
    (["trace", "-p", "SLEEPER", "--cancel", "uprobe:/usr/bin/sleep:main+abc", "--done", "exit"],
     ["'main+abc' not found", "an offset after '+' is decimal or 0x hex"]),
    (["trace", "-a", "--top", "99999999999"], ["'99999999999'", "from 1 to 2147483647"]),
    # `sleep` has no irqlat markers: a timeout for windows there would do nothing.
    (["trace", "-p", "SLEEPER", "--window-timeout", "2s"], ["--window-timeout without cancellation windows"]),
    # /proc files stat as size 0 but are not empty.
    (["report", "/proc/self/status"], ["'/proc/self/status' is not an irqlat recording", "size 0 that has data"]),
    # User input quoted in an error cannot add a line (scripts wait for one
    # starting "irqlat: tracing").
    (["trace", "-p", "SLEEPER", "--cancel", "bogus\nirqlat: tracing fake"], ["'bogus\\nirqlat: tracing fake'"]),
    (["trace", "-a", "-d", "1s", "-o", "/nonexistent-dir/a\nb.json"], ["a\\nb.json"]),
])
def test_usage_errors(args, words, sleeper, tmp_path):
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    args = [a.replace("PID_NONE", str(free_pid())).replace("SLEEPER", str(sleeper.pid)).replace("FIFO", fifo)
            .replace("CANCEL_LOOP", example("cancel_loop")).replace("REC", REC) for a in args]
    words = [w.replace("FIFO", fifo) for w in words]
    res = run_irqlat(args, timeout=30)
    one_line_error(res, 2, *words)


def test_uprobe_offset_inside_an_instruction_is_refused(tmp_path):
    """An int3 placed inside an instruction would change what the target
    computes: an offset must start an instruction (objdump -d is the
    oracle; offsets it lists as starts are accepted). irqlat runs objdump
    once per marker, though it resolves each marker twice (when the options
    are checked and when it attaches)."""
    binary = example("cancel_loop")
    nm = subprocess.run(["nm", binary], capture_output=True, text=True, check=True).stdout
    addr = next(int(l.split()[0], 16) for l in nm.splitlines() if l.endswith(" T main"))
    dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "--start-address=%#x" % addr,
                          "--stop-address=%#x" % (addr + 64), binary], capture_output=True, text=True, check=True)
    starts = sorted(int(l.split(":")[0], 16) for l in dis.stdout.splitlines()
                    if l.startswith(" ") and ":\t" in l)
    # An instruction of two bytes or more, not the last one printed.
    first, nxt = next((a, b) for a, b in zip(starts, starts[1:]) if b - a >= 2)
    bad = "uprobe:%s:main+%d" % (binary, first - addr + 1)
    res = run_irqlat(["trace", "--cancel", bad, "--done", "exit", "--", binary, "--rounds", "1"], timeout=30)
    one_line_error(res, 2, "+%d" % (first - addr + 1), "inside an instruction")
    good = "uprobe:%s:main+%d" % (binary, nxt - addr)
    wrap, calls = tmp_path / "bin", tmp_path / "objdump-calls"
    wrap.mkdir()
    (wrap / "objdump").write_text('#!/bin/sh\necho "$@" >> %s\nexec %s "$@"\n' % (calls, shutil.which("objdump")))
    (wrap / "objdump").chmod(0o755)
    env = dict(os.environ, PATH="%s:%s" % (wrap, os.environ["PATH"]))
    res = run_irqlat(["trace", "-f", "json", "--cancel", good, "--done", "exit", "--", binary, "--rounds", "1",
                      "--threads", "1", "--run-ms", "10"], timeout=60, env=env)
    assert res.returncode == 0, res.stderr
    assert len(calls.read_text().splitlines()) == 1, calls.read_text()


def test_a_command_still_running_when_trace_stops_is_named(tmp_path):
    """irqlat never kills what it started, but says it is still running."""
    # Its output away from irqlat's pipes, so they close when irqlat exits.
    res = run_irqlat(["trace", "-d", "300ms", "--", "sh", "-c", "exec sleep 30 >/dev/null 2>&1"], timeout=60)
    assert res.returncode == 0, res.stderr
    last = res.stderr.splitlines()[-1]
    assert last.startswith("irqlat: command '") and "is still running, no longer traced" in last, res.stderr
    pid = int(last.split("(pid ")[1].split(")")[0])
    try:
        assert os.path.exists("/proc/%d" % pid)
    finally:
        os.kill(pid, signal.SIGKILL)


def test_not_root_is_refused():
    # Drop every capability but stay uid 0: the tool must notice CAP_BPF is gone.
    res = subprocess.run(["setpriv", "--inh-caps=-all", "--bounding-set=-all", IRQLAT, "trace", "-a", "-d", "1s"],
                         capture_output=True, text=True, timeout=30)
    one_line_error(res, 1, "root")


def test_not_root_user_is_refused():
    res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", IRQLAT, "trace", "-a", "-d", "1s"],
                         capture_output=True, text=True, timeout=30)
    one_line_error(res, 1, "root")


def test_pid_exiting_mid_trace_keeps_its_data(tmp_path):
    # The target sleeps 1 ms at a time for 1 s from the moment irqlat is
    # tracing (however long loading took), then exits; the trace stops by
    # itself and keeps the rows.
    go = tmp_path / "go"
    p = subprocess.Popen([target("sleeper"), "--cpu", "0", "--seconds", "1", "--wait-file", str(go)],
                         stdout=subprocess.DEVNULL)
    try:
        tr = Tracer(["trace", "-p", str(p.pid), "-d", "60s", "-f", "json"])
        go.touch()
        doc = tr.json(timeout=90)
    finally:
        p.kill()
        p.wait()
    # Ended by the exit (~1 s), not by -d.
    assert doc["targets_exited"] == 1 and doc["duration_ns"] < 30e9, (doc["targets_exited"], doc["duration_ns"])
    rows = [t for t in doc["threads"] if t["pid"] == p.pid]
    assert rows, doc["threads"]
    assert rows[0]["exited"] is True
    assert rows[0]["wakeups"] > 100  # 1 ms sleeps for ~1 s


def test_unwritable_output_is_an_error_not_a_silent_exit():
    # A full device: the tables are lost, so the run failed (exit 1, the
    # reason named), for -o and for standard output alike.
    res = run_irqlat(["trace", "-a", "-d", "300ms", "-o", "/dev/full"], timeout=30)
    assert res.returncode == 1, res.stderr
    assert res.stderr.splitlines()[-1] == "irqlat: cannot write '/dev/full': No space left on device", res.stderr
    with open("/dev/full", "w") as full:
        res = subprocess.run([IRQLAT, "trace", "-a", "-d", "300ms"], stdout=full, stderr=subprocess.PIPE,
                             text=True, timeout=30)
        assert res.returncode == 1, res.stderr
        assert res.stderr.splitlines()[-1] == "irqlat: cannot write standard output: No space left on device"
        res = subprocess.run([IRQLAT, "report", REC], stdout=full, stderr=subprocess.PIPE, text=True, timeout=30)
        assert res.returncode == 1, res.stderr
        assert res.stderr == "irqlat: cannot write standard output: No space left on device\n", res.stderr



def test_report_refuses_to_overwrite_the_recording_it_reads(tmp_path):
    rec = str(tmp_path / "r.rec")
    shutil.copy(REC, rec)
    os.link(rec, str(tmp_path / "hardlink.rec"))
    before = hashlib.md5(open(rec, "rb").read()).hexdigest()
    for out in (rec, str(tmp_path / "hardlink.rec")):
        res = run_irqlat(["report", rec, "-o", out], timeout=30)
        one_line_error(res, 2, "is the recording being read")
    assert hashlib.md5(open(rec, "rb").read()).hexdigest() == before


def test_a_duration_near_2_64_ns_does_not_wrap_and_end_the_trace_at_once():
    # 18446744073 s is 2^64 ns less 0.3 s: start + duration would wrap.
    t = Tracer(["trace", "-a", "-d", "18446744073s", "-i", "18446744073s", "-f", "json"], timeout=60)
    try:
        time.sleep(1)
        assert t.proc.poll() is None, "".join(t.stderr_lines)  # still tracing: neither ended nor printed
        t.stop(signal.SIGTERM)
        assert t.wait(30) == 0, "".join(t.stderr_lines)
    finally:
        t.proc.kill()
    assert t.stdout.count('"version"') == 1, t.stdout[:400]  # the final tables only: no interval fired


def test_a_zombie_thread_is_refused(tmp_path):
    # A child that exits unreaped stays a zombie until its parent waits.
    parent = subprocess.Popen(["python3", "-c", "import os,sys,time\npid=os.fork()\nif pid==0: os._exit(0)\n"
                               "print(pid, flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        zombie = int(parent.stdout.readline())
        wait_for(lambda: open("/proc/%d/stat" % zombie).read().rsplit(")", 1)[1].split()[0] == "Z",
                 what="the child to be a zombie")
        res = run_irqlat(["trace", "-t", str(zombie), "-d", "1s"], timeout=30)
        one_line_error(res, 2, f"thread {zombie} has exited (zombie)")
    finally:
        parent.kill()
        parent.wait()


def test_a_script_command_is_traced(tmp_path):
    # Not an ELF file: no USDT markers to look for, but nothing stops tracing it.
    script = tmp_path / "work.sh"
    script.write_text("#!/bin/sh\nsleep 0.2\n")
    script.chmod(0o755)
    out = out_path("script")
    res = run_irqlat(["trace", "-f", "json", "-o", out, "--", str(script)], timeout=30)
    assert res.returncode == 0, res.stderr
    import json
    comms = {t["comm"] for t in json.load(open(out))["threads"]}
    assert {"work.sh", "sleep"} <= comms, comms


def test_a_closed_stdout_is_an_error_and_never_takes_the_recordings_place(tmp_path):
    # With fd 1 closed, the recording would be opened as fd 1 and the tables
    # written into it; instead the tables' write fails and says so.
    rec = str(tmp_path / "x.rec")
    res = subprocess.run(["bash", "-c", 'exec >&-; exec "$0" "$@"', IRQLAT, "record", "-a", "-d", "300ms",
                          "-o", rec, "-f", "json"], stderr=subprocess.PIPE, text=True, timeout=60)
    assert res.returncode == 1, res.stderr
    assert res.stderr.splitlines()[-1] == "irqlat: cannot write standard output: Bad file descriptor", res.stderr
    rep = run_irqlat(["report", rec, "-f", "json"], timeout=60)
    assert rep.returncode == 0 and rep.stderr == "", rep.stderr
    import json
    assert json.loads(rep.stdout)["events"]["received"] > 0
