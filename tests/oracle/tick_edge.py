#!/usr/bin/python3
"""Does /proc disagree with a tracepoint count on its own? (manual check, root)

test_interrupts.py allows per-CPU counts of the tick (LOC and the TIMER,
SCHED and RCU softirqs) to be a few off /proc. This script shows that the
edge belongs to the oracle, not to irqlat: bpftrace counts local_timer_entry
and softirq_entry per CPU only between two marker execs, /proc is read just
inside them, and the per-CPU differences are printed.

    /usr/bin/python3 tests/oracle/tick_edge.py [RUNS]   (Debian python3-pytest, from make deps)
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

# The oracle readers the integration tests use, not a second copy.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from conftest import delta, read_interrupts, read_softirqs  # noqa: E402

SOFTIRQS = ["HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU"]
SCRIPT = """
tracepoint:sched:sched_process_exec /comm == "tick_edge_on"/ { @on = 1; }
tracepoint:sched:sched_process_exec /comm == "tick_edge_off"/ { @on = 0; }
tracepoint:irq_vectors:local_timer_entry /@on == 1/ { @loc[cpu] = count(); }
tracepoint:irq:softirq_entry /@on == 1/ { @soft[cpu, args->vec] = count(); }
"""


def one_run(tmp, script):
    bt = subprocess.Popen(["bpftrace", script], stdout=subprocess.PIPE, text=True)
    bt.stdout.readline()  # "Attaching N probes..."
    time.sleep(0.5)
    subprocess.run([os.path.join(tmp, "tick_edge_on")], check=True)
    irq0, soft0 = read_interrupts(), read_softirqs()
    # Disk interrupts and cross-CPU wakeups, as in test_interrupts.py.
    subprocess.run(["sh", "-c", "dd if=/dev/zero of=%s/dd bs=4k count=3000 oflag=direct 2>/dev/null;"
                    "for i in $(seq 200); do taskset -c 1 true; done" % tmp], check=True)
    time.sleep(1.0)
    irq1, soft1 = read_interrupts(), read_softirqs()
    subprocess.run([os.path.join(tmp, "tick_edge_off")], check=True)
    time.sleep(0.2)
    bt.send_signal(2)
    out = bt.communicate()[0]
    loc = {int(c): int(n) for c, n in re.findall(r"@loc\[(\d+)\]: (\d+)", out)}
    soft = {(int(c), SOFTIRQS[int(v)]): int(n) for c, v, n in re.findall(r"@soft\[(\d+), (\d+)\]: (\d+)", out)}
    dloc, dsoft = delta(irq0, irq1)["LOC"], delta(soft0, soft1)
    cpus = range(len(dloc))
    print("LOC bpftrace - /proc per CPU: %s (/proc %s);" % ([loc.get(c, 0) - dloc[c] for c in cpus], dloc),
          " ".join("%s %s" % (v, [soft.get((c, v), 0) - dsoft[v][c] for c in cpus])
                   for v in ("TIMER", "SCHED", "RCU")))


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    if not os.path.ismount("/sys/kernel/tracing"):
        subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("tick_edge_on", "tick_edge_off"):
            shutil.copy("/bin/true", os.path.join(tmp, name))
        script = os.path.join(tmp, "tick_edge.bt")
        with open(script, "w") as f:
            f.write(SCRIPT)
        for _ in range(runs):
            one_run(tmp, script)


if __name__ == "__main__":
    main()
