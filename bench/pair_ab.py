#!/usr/bin/python3
"""Paired A/B of two irqlat builds' in-kernel cost (root; manual).

    bench/pair_ab.py OLD_IRQLAT NEW_IRQLAT [ROUNDS] [idle|pipe|all] [-- EXTRA TRACE ARGS]

Both builds run `irqlat trace` together under section 1's workload mix, so
their programs see the same events at the same moment and the host's drift
cancels. A tracepoint calls its programs in attach order, and the first pays
~15% more: the order alternates each round, and each order is printed.
Prints per round and at the end NEW/OLD ns/event of sched_switch,
sched_waking, the sched_*/signal mix and all programs (min/median/max).
"""
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        extra = args[args.index("--") + 1:]
        args = args[:args.index("--")]
    if len(args) < 2:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    bins = {"old": os.path.abspath(args[0]), "new": os.path.abspath(args[1])}
    rounds = int(args[2]) if len(args) > 2 else 10
    cfg = args[3] if len(args) > 3 else "idle"
    sys.argv = [sys.argv[0]]  # bench.py reads its build dir from argv
    sys.path.insert(0, HERE)
    import bench as B

    tmp = tempfile.mkdtemp(dir="/var/tmp")
    idle = B.spawn(["sleep", "1000000"], stdout=subprocess.DEVNULL)
    mix = B.Mix(tmp)
    mix.start()

    def start(name):
        if cfg == "idle":
            targets = ["-p", str(idle.pid)]
        elif cfg == "pipe":
            targets = ["-p", ",".join(map(str, mix.pipe_pids()))]
        else:
            targets = ["-a"]
        out = os.path.join(tmp, name + ".json")
        return B.Tracer(name, [bins[name], "trace", *targets, *extra, "-f", "json", "-o", out],
                        B.IRQLAT_READY, out)

    ratios = {"sched_switch": [], "sched_waking": [], "task": [], "all": []}
    try:
        B.set_bpf_stats(True)
        for r in range(rounds):
            order = ["old", "new"] if r % 2 == 0 else ["new", "old"]
            trs = {n: start(n) for n in order}
            pm = {n: B.ProgMap(t.pid) for n, t in trs.items()}
            time.sleep(B.SETTLE_SECONDS)
            s0 = {n: pm[n].snapshot(trs[n].pid) for n in trs}
            time.sleep(B.COST_SECONDS)
            s1 = {n: pm[n].snapshot(trs[n].pid) for n in trs}
            for n in reversed(order):  # the one attached second detaches fast
                trs[n].stop()
            d = {n: B.delta(s0[n], s1[n]) for n in trs}
            line = f"round {r + 1} first={order[0]}:"
            for tp in ("sched_switch", "sched_waking"):
                o, n = d["old"].get(tp), d["new"].get(tp)
                if o and n and o["cnt"] and n["cnt"]:
                    x, y = n["rt"] / n["cnt"], o["rt"] / o["cnt"]
                    ratios[tp].append(x / y)
                    line += f" {tp} {x:.0f}/{y:.0f} ns"
            for key, only in (("task", B.TASK_TPS_PREFIX), ("all", None)):
                m = B.mix_ratio(d["new"], d["old"], only)
                if m:
                    ratios[key].append(m[2])
                    line += f" {key} {m[2]:.3f}"
            print(line, flush=True)
    finally:
        B.set_bpf_stats(False)
        mix.stop()
        B.kill_tree(idle)
    for k, v in ratios.items():
        for label, part in (("old first", v[0::2]), ("new first", v[1::2]), ("all rounds", v)):
            t = B.mmm(part)
            if t:
                print(f"{k} new/old, {label}: {t[1]:.3f} [{t[0]:.3f}-{t[2]:.3f}]")


if __name__ == "__main__":
    main()
