"""Scheduling tables against the target's own view: its voluntary context
switches (getrusage) and its CLOCK_MONOTONIC wake-to-run stamps; and a CPU
hog placed on the target's CPU must show up as runqueue time."""
import json
import os
import subprocess

import pytest

from conftest import Tracer, json_lines, run_irqlat, target


def thread_rows(doc):
    return {t["tid"]: t for t in doc["threads"]}


@pytest.mark.parametrize("attach", ["tp_btf", "raw_tp"])
def test_pingpong_wakeups_and_latency_bounded_by_target_stamps(attach):
    rounds = 20000
    env = dict(os.environ, IRQLAT_FORCE_RAW_TP="1" if attach == "raw_tp" else "0")
    res = run_irqlat(["trace", "-v", "-f", "json", "-o", "/tmp/irqlat-pingpong.json", "--",
                      target("pingpong"), "--rounds", str(rounds), "--cpu", "0,1"], timeout=120, env=env)
    assert "(%s)" % attach in res.stderr
    assert res.returncode == 0, res.stderr
    with open("/tmp/irqlat-pingpong.json") as f:
        doc = json.load(f)
    assert doc["events"]["dropped"] == 0
    tool = thread_rows(doc)
    own = json_lines(res.stdout)
    assert len(own) == 2, res.stdout
    for t in own:
        row = tool[t["tid"]]
        stamps = t["wake_to_run_ns"]
        print("tid %d: tool wakeups %d, nvcsw %d; sched p50/p99/max tool %d/%d/%d, own %d/%d/%d" % (
            t["tid"], row["wakeups"], t["nvcsw"], row["sched_p50_ns"], row["sched_p99_ns"],
            row["sched_max_ns"], stamps["p50"], stamps["p99"], stamps["max"]))
        # Every block (voluntary switch) is followed by exactly one wakeup.
        assert abs(row["wakeups"] - t["nvcsw"]) <= max(3, 0.01 * t["nvcsw"])
        assert row["wakeups"] > rounds * 0.9
        # The tool's wakeup->run is inside the target's write->read-returned
        # stamps, so each order statistic is no larger (percentiles are
        # bucket midpoints: 1% resolution).
        assert 0 < row["sched_p50_ns"] <= stamps["p50"] * 1.01
        assert row["sched_p99_ns"] <= stamps["p99"] * 1.01
        assert row["sched_max_ns"] <= stamps["max"]
        assert row["oncpu_ns"] > 0


def run_sleeper(with_hog):
    hog = None
    if with_hog:
        hog = subprocess.Popen([target("cpuhog"), "--cpu", "1"])
    try:
        res = run_irqlat(["trace", "-f", "json", "-o", "/tmp/irqlat-sleeper.json", "--", target("sleeper"),
                          "--cpu", "1", "--seconds", "2", "--work-us", "2000"], timeout=60)
    finally:
        if hog:
            hog.terminate()
            hog.wait()
    assert res.returncode == 0, res.stderr
    with open("/tmp/irqlat-sleeper.json") as f:
        doc = json.load(f)
    own = json_lines(res.stdout)[-1]
    return thread_rows(doc)[own["tid"]], own


def test_cpu_hog_on_target_cpu_raises_runqueue_time():
    alone, own_alone = run_sleeper(False)
    hogged, own_hogged = run_sleeper(True)
    print("runqueue alone %d ns (%d wakeups), with hog %d ns (%d wakeups)" % (
        alone["runqueue_ns"], alone["wakeups"], hogged["runqueue_ns"], hogged["wakeups"]))
    assert alone["wakeups"] > 300 and hogged["wakeups"] > 100
    assert hogged["runqueue_ns"] >= 10 * alone["runqueue_ns"]
    assert hogged["runqueue_ns"] >= 1_000_000
