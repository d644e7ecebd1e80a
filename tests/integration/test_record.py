"""irqlat record / irqlat report (SPEC sections 3 and 8, docs/recording-format.md).

The oracle for `report` is the live run itself: `record -f json` prints the
tables the live pipeline built (exactly what `trace` prints), and `report` on
the file must print the same document. Damaged recordings (cut at random
offsets, killed mid-run, not recordings at all) must give tables for the
complete part with a warning, or one error line, never a crash; `report` on
them runs under ASan+UBSan when build/irqlat-asan exists."""
import collections
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
import zlib

import pytest

from conftest import BUILD, IRQLAT, Tracer, direct_write, example, free_pid, run_irqlat, target

ASAN = os.path.join(BUILD, "irqlat-asan")
if os.environ.get("IRQLAT_ASAN_FRESH") == "1":
    # `make test` has just built it: the damaged-file tests must run under
    # the sanitizers, never quietly fall back to the plain binary.
    if not os.path.exists(ASAN):
        raise RuntimeError(f"{ASAN} is missing (make test builds it)")
    REPORT_BIN = ASAN
else:
    # Run by hand: a copy older than build/irqlat would test stale code.
    REPORT_BIN = (ASAN if os.path.exists(ASAN) and os.path.exists(IRQLAT)
                  and os.path.getmtime(ASAN) >= os.path.getmtime(IRQLAT) else IRQLAT)


@pytest.fixture
def tmpdir_path():
    d = tempfile.mkdtemp(prefix="irqlat-rec-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def tool_json(stdout):
    """The pretty JSON document irqlat printed, after any lines the traced
    command wrote to the same stdout (cancel_loop prints one-line JSON)."""
    if stdout.startswith("{\n"):
        return json.loads(stdout)
    i = stdout.index("\n{\n")
    return json.loads(stdout[i + 1:])


def report(path, *args, binary=None, timeout=120):
    return subprocess.run([binary or REPORT_BIN, "report", path] + list(args), capture_output=True, text=True,
                          timeout=timeout)


def no_crash(res):
    text = res.stderr + res.stdout
    assert 0 <= res.returncode < 128, (res.returncode, res.stderr[-2000:])
    for bad in ("AddressSanitizer", "runtime error", "Segmentation", "LeakSanitizer", "terminate called"):
        assert bad not in text, res.stderr[-4000:]


def one_line_error(res, *words):
    no_crash(res)
    lines = [l for l in res.stderr.splitlines() if l.strip()]
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("irqlat: "), lines[0]
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert res.stdout == ""


def summary_line(stderr):
    lines = [l for l in stderr.splitlines() if l.startswith("irqlat: recorded ")]
    assert len(lines) == 1, stderr
    return lines[0]


def assert_same_doc(live, offline):
    if live == offline:
        return
    # Name the first difference (the whole documents are large).
    def walk(a, b, path):
        if type(a) != type(b):
            return path
        if isinstance(a, dict):
            for k in sorted(set(a) | set(b)):
                if k not in a or k not in b:
                    return path + "/" + k
                p = walk(a[k], b[k], path + "/" + k)
                if p:
                    return p
        elif isinstance(a, list):
            if len(a) != len(b):
                return path + " (length %d vs %d)" % (len(a), len(b))
            for i, (x, y) in enumerate(zip(a, b)):
                p = walk(x, y, "%s/%d" % (path, i))
                if p:
                    return p
        elif a != b:
            return "%s: %r vs %r" % (path, a, b)
        return None
    raise AssertionError("report differs from the live tables at " + str(walk(live, offline, "")))


@pytest.fixture(scope="module")
def windows_recording():
    """cancel_loop with its USDT markers (default windows), a CPU hog on the
    workers' CPU so windows have runqueue time and preemptors."""
    d = tempfile.mkdtemp(prefix="irqlat-rec-")
    path = os.path.join(d, "windows.rec")
    hog = subprocess.Popen([target("cpuhog"), "--cpu", "0", "--seconds", "20"])
    try:
        res = run_irqlat(["record", "-o", path, "-f", "json", "--",
                          example("cancel_loop"), "--threads", "2", "--rounds", "30", "--run-ms", "40",
                          "--mode", "sleep", "--cpu", "0"], timeout=60)
    finally:
        hog.kill()
        hog.wait()
    assert res.returncode == 0, res.stderr
    yield path, tool_json(res.stdout), res.stderr
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def system_recording():
    """-a for 3 s with disk interrupts: several event blocks and interim
    statistics blocks, zstd-compressed."""
    d = tempfile.mkdtemp(prefix="irqlat-rec-")
    path = os.path.join(d, "all.rec")
    t = Tracer(["record", "-a", "-d", "3s", "-o", path, "-f", "json", "--compress", "zstd"])
    direct_write(500)
    doc = t.json(timeout=60)
    yield path, doc, "".join(t.stderr_lines)
    shutil.rmtree(d, ignore_errors=True)


def block_codecs(path):
    """Format version and the codec byte of every block (docs/recording-format.md)."""
    data = open(path, "rb").read()
    codecs, off = set(), 8
    while off + 24 <= len(data) and data[off:off + 4] == b"IRQB":
        codecs.add(data[off + 5])
        off += 24 + int.from_bytes(data[off + 16:off + 20], "little")
    return data[7], codecs


def events_tags(path):
    """How often each item tag occurs in the zlib EVENTS blocks (format 5:
    u32 count, then that many tags)."""
    data = open(path, "rb").read()
    tags, off = collections.Counter(), 8
    while off + 24 <= len(data) and data[off:off + 4] == b"IRQB":
        clen = int.from_bytes(data[off + 16:off + 20], "little")
        if data[off + 4] == 2 and data[off + 5] == 0:
            payload = zlib.decompress(data[off + 24:off + 24 + clen])
            n = int.from_bytes(payload[:4], "little")
            tags.update(payload[4:4 + n])
        off += 24 + clen
    return tags


def test_record_writes_format_5_zlib_unless_asked(windows_recording, system_recording):
    assert block_codecs(windows_recording[0]) == (5, {0})
    assert block_codecs(system_recording[0]) == (5, {1})  # --compress zstd
    # Every record the kernel wrote has its type's size: each takes a
    # one-byte tag (type + 1), none the long form (its size, then the type).
    tags = events_tags(windows_recording[0])
    assert tags[0] > 0, tags  # watermarks
    assert tags[1 + 1] > 0 and tags[1 + 10] > 0, tags  # EV_SWITCH, EV_MARK
    assert not [t for t in tags if t == 1 or t > 11], tags


def test_report_equals_live_tables_with_windows(windows_recording):
    path, live, stderr = windows_recording
    assert live["windows"]["count"] == 60, live["windows"]
    assert any(w["preempted_by"] for w in live["windows"]["list"])
    res = report(path, "-f", "json")
    no_crash(res)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    assert_same_doc(live, json.loads(res.stdout))
    # The summary line: events, bytes, bytes/event, and the file agrees.
    line = summary_line(stderr)
    events = int(line.split()[2])
    assert events == live["events"]["received"]
    assert "bytes/event" in line
    assert os.path.getsize(path) > 0


def test_report_equals_live_tables_system_wide(system_recording):
    path, live, stderr = system_recording
    assert any(h["irq"] is not None for h in live["hardirqs"]), live["hardirqs"]
    assert live["events"]["received"] > 1000
    # /proc's cross-check is not in a recording, nor in record's own tables.
    assert live["events"]["irq_unseen"] is None and all(h["proc_count"] is None for h in live["hardirqs"])
    res = report(path, "-f", "json")
    no_crash(res)
    assert res.returncode == 0, res.stderr
    assert_same_doc(live, json.loads(res.stdout))
    # Table and csv come from the same Report.
    for fmt in ("table", "csv"):
        r = report(path, "-f", fmt, binary=IRQLAT)
        assert r.returncode == 0 and r.stdout.strip(), r.stderr


def test_drops_of_a_stalled_collector_are_counted_and_shown(tmpdir_path):
    """Nothing is lost silently. The collector is stopped (SIGSTOP) for a
    second while a ping-pong target switches ~100k times a second: its 1 MB
    ring buffer fills within milliseconds and the kernel drops records. The
    drops must be counted per record (not per batch) and shown on the
    recording's summary line, in the live tables (JSON `lossy`, the table's
    WARNING line) and in `report` of the file."""
    path = os.path.join(tmpdir_path, "dropped.irqlat")
    tr = Tracer(["record", "--ringbuf-size", "1", "-f", "json", "-o", path, "--",
                 target("pingpong"), "--rounds", "300000", "--cpu", "1,1"])
    time.sleep(0.3)
    tr.proc.send_signal(signal.SIGSTOP)
    time.sleep(1.0)
    tr.proc.send_signal(signal.SIGCONT)
    rc = tr.wait(timeout=120)
    assert rc == 0, "".join(tr.stderr_lines)
    lines = tr.stdout.splitlines()
    own = [json.loads(l) for l in lines if l.startswith('{"tid"')]
    live = json.loads("\n".join(lines[lines.index("{"):]))
    assert len(own) == 2, tr.stdout[:2000]
    # The threads' own count of their voluntary switches: each is at least
    # one switch record and one wakeup record in the kernel.
    nvcsw = sum(t["nvcsw"] for t in own)
    ev = live["events"]
    print("received %d, dropped %d; the threads' own voluntary switches %d" % (ev["received"], ev["dropped"], nvcsw))
    # The premise, by the threads' own counts: wakeups went missing.
    rows = {t["tid"]: t for t in live["threads"]}
    seen = sum(rows[t["tid"]]["wakeups"] for t in own if t["tid"] in rows)
    assert seen < 0.9 * nvcsw, (seen, nvcsw)
    assert ev["dropped"] > 0
    # Counted per record, not per batch: what was received plus what was
    # dropped covers a switch record and a wakeup record per voluntary switch.
    assert ev["received"] + ev["dropped"] >= 2 * nvcsw
    assert live["lossy"] is True
    line = summary_line("".join(tr.stderr_lines))
    assert "%d events dropped" % ev["dropped"] in line and "incomplete" in line, line
    res = report(path, "-f", "json")
    no_crash(res)
    assert res.returncode == 0, res.stderr
    offline = json.loads(res.stdout)
    assert offline["events"]["dropped"] == ev["dropped"] and offline["lossy"] is True
    table = report(path, binary=IRQLAT)
    assert table.returncode == 0, table.stderr
    assert "WARNING: %d events dropped" % ev["dropped"] in table.stdout


def test_report_output_file_and_top(windows_recording, tmpdir_path):
    path, live, _ = windows_recording
    out = os.path.join(tmpdir_path, "tables.json")
    res = report(path, "-f", "json", "-o", out, binary=IRQLAT)
    assert res.returncode == 0 and res.stdout == "", res.stderr
    with open(out) as f:
        assert json.load(f) == live
    res = report(path, "--top", "2", binary=IRQLAT)
    assert res.returncode == 0
    assert "worst 2 windows" in res.stdout


def test_truncated_copies_report_the_complete_part(system_recording, tmpdir_path):
    path, live, _ = system_recording
    data = open(path, "rb").read()
    rng = random.Random(4)
    # Random cuts past the header block (magic, 24-byte block header, clen
    # at file offset 24), whatever the file's size; two inside the header.
    header_end = 8 + 24 + int.from_bytes(data[24:28], "little")
    assert header_end < len(data) - 100, (header_end, len(data))
    # The first block after it (clen at offset 16 of its header): a cut
    # inside it leaves neither events nor statistics, which is an error.
    first_end = header_end + 24 + int.from_bytes(data[header_end + 16:header_end + 20], "little")
    cuts = sorted(rng.sample(range(header_end + 1, len(data)), 10)) + [8, 20, header_end + 10, len(data) - 1]
    warned = errored = 0
    for cut in cuts:
        part = os.path.join(tmpdir_path, "cut-%d.rec" % cut)
        with open(part, "wb") as f:
            f.write(data[:cut])
        res = report(part, "-f", "json")
        no_crash(res)
        lines = [l for l in res.stderr.splitlines() if l.strip()]
        assert len(lines) == 1, (cut, res.stderr)
        if res.returncode == 0:
            warned += 1
            assert lines[0].startswith("irqlat: warning: '%s': truncated after block " % part), lines[0]
            assert "tables cover the complete part" in lines[0]
            doc = json.loads(res.stdout)
            assert doc["events"]["received"] <= live["events"]["received"]
            assert doc["start_ns"] == live["start_ns"]
            assert doc["end_ns"] <= live["end_ns"]
        else:
            errored += 1
            one_line_error(res, part)
            if cut < header_end:
                assert "truncated inside its header" in lines[0], lines[0]
            else:
                assert cut < first_end and "before any events or statistics" in lines[0], (cut, lines[0])
    empty = sum(header_end <= c < first_end for c in cuts)
    assert (warned, errored) == (14 - 2 - empty, 2 + empty) and empty >= 1


def test_killed_recording_keeps_tables_up_to_the_last_block(tmpdir_path):
    path = os.path.join(tmpdir_path, "killed.rec")
    t = Tracer(["record", "-a", "-o", path])
    direct_write(300)
    time.sleep(3.2)  # past the first interim statistics block (every 2 s)
    t.proc.kill()
    t.wait(timeout=30)
    res = report(path, "-f", "json")
    no_crash(res)
    assert res.returncode == 0, res.stderr
    assert "truncated after block" in res.stderr
    doc = json.loads(res.stdout)
    assert doc["events"]["received"] > 0
    assert doc["hardirqs"], "interim statistics should give interrupt tables"


def test_record_stops_on_sigterm_and_target_exit(tmpdir_path):
    path = os.path.join(tmpdir_path, "term.rec")
    t = Tracer(["record", "-a", "-o", path])
    time.sleep(0.5)
    t.stop(signal.SIGTERM)
    assert t.wait(timeout=30) == 0, "".join(t.stderr_lines)
    assert any(l.startswith("irqlat: stopped tracing") for l in t.stderr_lines)
    res = report(path)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    # A -- COMMAND target: stops when it exits; its exit status does not matter.
    path2 = os.path.join(tmpdir_path, "cmd.rec")
    r = run_irqlat(["record", "-o", path2, "--", target("sleeper"), "--seconds", "0.3"], timeout=30)
    assert r.returncode == 0, r.stderr
    assert "irqlat: tracing" in r.stderr and "irqlat: stopped tracing" in r.stderr
    summary_line(r.stderr)
    res = report(path2, "-f", "json")
    assert res.returncode == 0 and res.stderr == "", res.stderr
    assert any(th["comm"] == "sleeper" for th in json.loads(res.stdout)["threads"])


def test_bad_recordings_get_one_line(tmpdir_path):
    empty = os.path.join(tmpdir_path, "empty.rec")
    open(empty, "wb").close()
    one_line_error(report(empty), "'%s' is empty" % empty)
    text = os.path.join(tmpdir_path, "text.rec")
    with open(text, "w") as f:
        f.write("this is not a recording\n" * 100)
    one_line_error(report(text), "'%s' is not an irqlat recording" % text)
    one_line_error(report(os.path.join(tmpdir_path, "missing.rec")), "missing.rec", "No such file")
    one_line_error(report(tmpdir_path), tmpdir_path)
    one_line_error(report("/bin/true"), "is not an irqlat recording")
    # A good recording with the wrong version byte / a flipped payload byte.
    good = os.path.join(tmpdir_path, "good.rec")
    r = run_irqlat(["record", "-o", good, "--", "/bin/true"], timeout=30)
    assert r.returncode == 0, r.stderr
    data = bytearray(open(good, "rb").read())
    v9 = os.path.join(tmpdir_path, "v9.rec")
    open(v9, "wb").write(bytes(data[:7]) + b"\x09" + bytes(data[8:]))
    one_line_error(report(v9), "recording format version 9 is not supported")
    flipped = os.path.join(tmpdir_path, "flipped.rec")
    data[len(data) // 2] ^= 0x40
    open(flipped, "wb").write(bytes(data))
    res = report(flipped)
    no_crash(res)
    if res.returncode == 2:
        one_line_error(res, "is corrupt")
    else:  # the flip hit a length field: it reads as cut short
        assert res.returncode == 0 and "truncated" in res.stderr


def test_record_usage_errors(tmpdir_path):
    # Unwritable output: one line, before anything is traced.
    res = run_irqlat(["record", "-a", "-d", "1s", "-o", "/nonexistent-dir/x.rec"], timeout=30)
    one_line_error(res, "/nonexistent-dir/x.rec")
    res = run_irqlat(["record", "-a", "-d", "1s", "-o", tmpdir_path], timeout=30)
    one_line_error(res, tmpdir_path)
    res = run_irqlat(["record", "-a", "-d", "1s"], timeout=30)
    one_line_error(res, "-o FILE")
    # A run that fails before recording leaves no file behind.
    out = os.path.join(tmpdir_path, "nopid.rec")
    pid = str(free_pid())
    res = run_irqlat(["record", "-p", pid, "-o", out], timeout=30)
    one_line_error(res, pid)
    assert not os.path.exists(out)
    # report does not take --interval (statistics are running totals).
    res = run_irqlat(["report", "x.rec", "-i", "1s"], timeout=30)
    assert res.returncode == 2


def test_report_reinterprets_recorded_windows(windows_recording):
    path, live, _ = windows_recording
    # The recorded specs given explicitly: the same document.
    res = report(path, "-f", "json", "--cancel", "usdt:irqlat:cancel", "--done", "usdt:irqlat:done")
    assert res.returncode == 0, res.stderr
    assert_same_doc(live, json.loads(res.stdout))
    # Done = process exit: the done markers no longer close windows; the
    # cancel_loop process exits after its last round, closing one window.
    res = report(path, "-f", "json", "--cancel", "usdt:irqlat:cancel", "--done", "exit")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["windows"]["count"] <= 1
    assert doc["windows"]["count"] + doc["windows"]["unfinished"] == 30
    # Things the recording cannot answer.
    one_line_error(report(path, "--cancel", "signal"), "--cancel 'signal'", "recorded without --cancel signal")
    one_line_error(report(path, "--cancel", "usdt:other:probe", "--done", "exit"), "was not recorded")
    # A shorter window timeout makes windows unfinished.
    res = report(path, "-f", "json", "--window-timeout", "1us")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["windows"]["count"] < live["windows"]["count"]
