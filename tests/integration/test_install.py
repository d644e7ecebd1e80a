"""`make install` / `make uninstall`, the man page and the systemd unit.

Everything is installed under a temporary DESTDIR; nothing outside it is
written. The man page is checked against the binary's own --help output, so
an option added to the command line without documenting it fails here.
"""
import os
import re
import shutil
import stat
import subprocess

import pytest

from conftest import BUILD, IRQLAT
from test_daemon import Daemon

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_ABS = os.path.abspath(BUILD)
BINARY = os.path.join(BUILD_ABS, "irqlat")
PLUGIN = os.path.join(BUILD_ABS, "irqlat-metrics.so")
MAN_SRC = os.path.join(REPO, "dist", "irqlat.8")
UNIT_SRC = os.path.join(REPO, "dist", "irqlat.service")


def make(*args, destdir=None, check=True):
    """Runs make in the repo root with a clean environment (no inherited
    MAKEFLAGS or PREFIX/DESTDIR from an outer `make test`). `-o BINARY -o
    PLUGIN`: the build under test is installed as it is, never rebuilt here."""
    if destdir is not None:
        destdir = os.path.abspath(str(destdir))
        assert destdir not in ("", "/") and os.path.isdir(destdir), destdir
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "DESTDIR", "PREFIX",
                        "SBINDIR", "MANDIR", "UNITDIR", "INSTALL")}
    cmd = ["make", "--no-print-directory", "-o", BINARY, "-o", PLUGIN, "BUILD=" + BUILD_ABS]
    if destdir is not None:
        cmd.append("DESTDIR=" + destdir)
    cmd += list(args)
    p = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert p.returncode == 0, "%s failed (%d):\n%s%s" % (" ".join(cmd), p.returncode, p.stdout, p.stderr)
    return p


def paths(destdir, prefix="/usr", unitdir=None):
    root = str(destdir)
    unitdir = unitdir or prefix + "/lib/systemd/system"
    return {
        "bin": root + prefix + "/sbin/irqlat",
        "plugin": root + prefix + "/lib/irqlat/irqlat-metrics.so",
        "man": root + prefix + "/share/man/man8/irqlat.8",
        "unit": root + unitdir + "/irqlat.service",
    }


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def unit_values(text, key):
    """Every value of `key=` in a unit file (comments skipped)."""
    return [line.split("=", 1)[1].strip() for line in text.splitlines()
            if not line.lstrip().startswith(("#", ";")) and line.split("=", 1)[0].strip() == key]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    if not os.access(BINARY, os.X_OK):
        pytest.fail("no built binary at %s (build first, or set IRQLAT_BUILD)" % BINARY)
    destdir = tmp_path_factory.mktemp("destdir")
    make("install", "PREFIX=/usr", destdir=destdir)
    return destdir, paths(destdir)


# ---------------------------------------------------------------- install

def test_install_puts_four_files_with_modes(installed):
    destdir, p = installed
    assert os.path.isfile(p["bin"]) and mode(p["bin"]) == 0o755
    assert os.path.isfile(p["plugin"]) and mode(p["plugin"]) == 0o644
    assert os.path.isfile(p["man"]) and mode(p["man"]) == 0o644
    assert os.path.isfile(p["unit"]) and mode(p["unit"]) == 0o644
    # Nothing else: the DESTDIR holds exactly these four files.
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(str(destdir)) for f in fs)
    assert files == sorted(p.values())
    with open(p["man"], "rb") as a, open(MAN_SRC, "rb") as b:
        assert a.read() == b.read()
    with open(p["bin"], "rb") as a, open(BINARY, "rb") as b:
        assert a.read() == b.read()
    with open(p["plugin"], "rb") as a, open(PLUGIN, "rb") as b:
        assert a.read() == b.read()


def test_installed_binary_runs(installed):
    _, p = installed
    out = subprocess.run([p["bin"], "--version"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    assert re.fullmatch(r"irqlat \d+\.\d+\.\d+\S*\n", out.stdout), out.stdout
    ref = subprocess.run([IRQLAT, "--version"], capture_output=True, text=True, timeout=10)
    assert out.stdout == ref.stdout


def test_installed_daemon_finds_its_metrics_plugin(installed):
    """The installed binary loads the plugin from ../lib/irqlat, not from the
    build tree: the scrape only answers if that lookup works."""
    _, p = installed
    d = Daemon(binary=p["bin"])
    try:
        text = d.metrics()
        assert "# TYPE irqlat_hardirq_duration_seconds histogram" in text
        maps = open("/proc/%d/maps" % d.tracer.proc.pid).read()
        assert p["plugin"] in maps and PLUGIN not in maps
    finally:
        d.stop()
        d.close()


def test_installed_unit_execstart_points_at_installed_binary(installed):
    _, p = installed
    text = open(p["unit"]).read()
    assert "@" not in text.replace("$MAINPID", ""), "placeholder left in the installed unit"
    with open(UNIT_SRC) as f:
        assert text == f.read().replace("@SBINDIR@", "/usr/sbin")
    (execstart,) = unit_values(text, "ExecStart")
    argv = execstart.split()
    assert argv[0] == "/usr/sbin/irqlat" and argv[1] == "daemon", execstart
    # Every option in ExecStart is one the daemon accepts.
    daemon_opts = {long for long, _ in help_options(["daemon"])}
    used = [a for a in argv[2:] if a.startswith("--")]
    assert used and set(used) <= daemon_opts, (used, daemon_opts)
    # The socket is where `irqlat ctl` looks by default, so a plain
    # `irqlat ctl status` reaches the installed daemon; the pidfile is in the
    # RuntimeDirectory. Both are writable under ProtectSystem=strict.
    (ctl_default,) = re.findall(r"--socket\b.*\(default (\S+)\)", help_text(["ctl"]))
    (daemon_default,) = re.findall(r"--socket\b.*\(default (\S+)\)", help_text(["daemon"]))
    assert argv[argv.index("--socket") + 1] == ctl_default == daemon_default, (execstart, ctl_default)
    (rundir,) = unit_values(text, "RuntimeDirectory")
    pidfile = argv[argv.index("--pidfile") + 1]
    assert os.path.dirname(pidfile) == "/run/" + rundir, pidfile
    writable = unit_values(text, "ReadWritePaths")[0].split()
    for path in (ctl_default, pidfile):
        assert any(path.startswith(w.rstrip("/") + "/") for w in writable), (path, writable)
    assert unit_values(text, "Type") == ["simple"]
    assert unit_values(text, "ExecReload") == ["/bin/kill -HUP $MAINPID"]
    assert unit_values(text, "NoNewPrivileges") == ["yes"]
    assert unit_values(text, "ProtectSystem") == ["strict"]
    caps = set(unit_values(text, "CapabilityBoundingSet")[0].split())
    # What the daemon keeps after dropping (user/privileges.cpp), plus
    # CAP_SETPCAP, without which it cannot drop the rest.
    assert {"CAP_BPF", "CAP_PERFMON", "CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH",
            "CAP_SETPCAP"} <= caps
    assert not unit_values(text, "AmbientCapabilities")


def test_default_prefix_and_unitdir_override(tmp_path):
    # PREFIX defaults to /usr/local; UNITDIR is independent of it.
    make("install", "UNITDIR=/etc/systemd/system", destdir=tmp_path)
    p = paths(tmp_path, prefix="/usr/local", unitdir="/etc/systemd/system")
    for f in p.values():
        assert os.path.isfile(f), f
    (execstart,) = unit_values(open(p["unit"]).read(), "ExecStart")
    assert execstart.split()[0] == "/usr/local/sbin/irqlat"
    make("uninstall", "UNITDIR=/etc/systemd/system", destdir=tmp_path)
    for f in p.values():
        assert not os.path.exists(f), f


def test_install_builds_binary_but_never_runs_deps(tmp_path):
    # Dry run against an empty build dir: install builds the binary first
    # (it depends on $(BUILD)/irqlat) and never installs packages.
    empty = tmp_path / "build"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    out = subprocess.run(["make", "--no-print-directory", "-n", "install", "BUILD=%s" % empty,
                          "DESTDIR=%s" % (tmp_path / "d")], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "-o %s/irqlat " % empty in out.stdout  # the link step
    assert "apt-get" not in out.stdout and "dpkg-query" not in out.stdout
    assert list(empty.iterdir()) == []  # -n wrote nothing


# ---------------------------------------------------------------- uninstall

def test_uninstall_removes_only_its_files(tmp_path):
    make("install", "PREFIX=/usr", destdir=tmp_path)
    p = paths(tmp_path)
    neighbour = tmp_path / "usr" / "sbin" / "other-tool"
    neighbour.write_text("keep me\n")
    make("uninstall", "PREFIX=/usr", destdir=tmp_path)
    for f in p.values():
        assert not os.path.exists(f), f
    assert not os.path.exists(os.path.dirname(p["plugin"]))  # its own directory goes too
    assert neighbour.read_text() == "keep me\n"
    # A second uninstall is harmless.
    make("uninstall", "PREFIX=/usr", destdir=tmp_path)


# ---------------------------------------------------------------- man page

def help_text(cmd):
    out = subprocess.run([IRQLAT] + cmd + ["--help"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, (cmd, out.stderr)
    return out.stdout


def help_section(text, title):
    """Lines of a CLI11 help section ("Options:", "Subcommands:")."""
    lines, on = [], False
    for line in text.splitlines():
        if line.strip() == title:
            on = True
        elif on and not line.strip():
            break
        elif on:
            lines.append(line)
    return lines


def help_options(cmd):
    """(long, short-or-None) for each option in the Options: section of
    `irqlat CMD --help`; only the option column, not the descriptions."""
    opts = []
    for line in help_section(help_text(cmd), "Options:"):
        column = re.split(r"\s{2,}", line.strip())[0]
        m = re.match(r"(?:(-\w),)?(--[\w][\w-]*)", column)
        assert m, "unparsed --help line: %r" % line
        opts.append((m.group(2), m.group(1)))
    assert opts, "no options parsed from irqlat %s --help" % " ".join(cmd)
    return opts


def help_subcommands(cmd):
    return [line.split()[0] for line in help_section(help_text(cmd), "Subcommands:")]


@pytest.fixture(scope="module")
def man_sections():
    """The rendered man page (plain ASCII, long lines, no hyphenation) as
    {(SECTION, SUBSECTION): text}; (SECTION, None) holds the whole section."""
    out = subprocess.run(["groff", "-man", "-Tascii", "-rLL=300n", "-P-c", "-P-b", "-P-o", "-P-u",
                          MAN_SRC], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    sections, sh, ss = {}, None, None
    for line in out.stdout.splitlines():
        if re.match(r"^[A-Z]", line):
            sh, ss = line.strip(), None
        elif re.match(r"^ {3}\S", line):
            ss = line.strip()
        sections.setdefault((sh, None), []).append(line)
        if ss:
            sections.setdefault((sh, ss), []).append(line)
    return {k: "\n".join(v) for k, v in sections.items()}


def test_man_page_renders_without_warnings():
    out = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", MAN_SRC],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout == "" and out.stderr == "", out.stderr
    if shutil.which("man"):
        out = subprocess.run(["man", "--warnings", "-l", MAN_SRC], capture_output=True, text=True,
                             timeout=30, env=dict(os.environ, MANPAGER="cat", PAGER="cat"))
        assert out.returncode == 0 and out.stderr == "", out.stderr
        assert "irqlat" in out.stdout


# Where each command's options are documented in the man page.
COMMON = [("OPTIONS", "Common options")]
MAN_PLACES = {
    (): COMMON,
    ("trace",): [("TARGETS", None), ("OPTIONS", "trace and record")] + COMMON,
    ("record",): [("TARGETS", None), ("OPTIONS", "trace and record")] + COMMON,
    ("report",): [("OPTIONS", "report")] + COMMON,
    ("daemon",): [("OPTIONS", "daemon")] + COMMON,
    ("ctl",): [("OPTIONS", "ctl")] + COMMON,
}


def test_man_page_documents_every_command_and_verb(man_sections):
    synopsis = man_sections[("SYNOPSIS", None)]
    commands = help_subcommands([])
    assert set(commands) == {"trace", "record", "report", "daemon", "ctl"}, commands
    for c in commands:
        assert re.search(r"^\s*irqlat %s\b" % c, synopsis, re.M), "SYNOPSIS lacks irqlat " + c
    verbs = help_subcommands(["ctl"])
    assert verbs, "no ctl verbs parsed"
    ctl = man_sections[("OPTIONS", "ctl")]
    for v in verbs:
        assert re.search(r"^\s*irqlat ctl .*\b%s\b" % v, synopsis, re.M), "SYNOPSIS lacks ctl " + v
        assert re.search(r"^ {7}%s\b" % v, ctl, re.M), "ctl verb %s has no entry" % v


def check_options(cmd, places, man_sections):
    text = "\n".join(man_sections[p] for p in places)
    missing = []
    for long, short in help_options(list(cmd)):
        if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(long), text):
            missing.append(long)
        elif short and not re.search(r"(?<![\w-])%s, %s(?![\w-])" % (re.escape(short), re.escape(long)), text):
            missing.append("%s, %s" % (short, long))
    assert not missing, "irqlat %s: options missing from the man page (%s): %s" % (
        " ".join(cmd), ", ".join("%s/%s" % p for p in places), missing)


@pytest.mark.parametrize("cmd", sorted(MAN_PLACES), ids=lambda c: "-".join(c) or "irqlat")
def test_man_page_documents_every_option(cmd, man_sections):
    check_options(cmd, MAN_PLACES[cmd], man_sections)


def test_man_page_documents_every_ctl_verb_option(man_sections):
    for verb in help_subcommands(["ctl"]):
        check_options(("ctl", verb), [("OPTIONS", "ctl")] + COMMON, man_sections)


def test_man_page_daemon_section(man_sections):
    daemon = man_sections[("DAEMON", None)]
    for cmd in ("attach", "detach", "dump", "status", "reset"):
        assert '{"cmd":"%s"' % cmd in daemon, cmd
    assert '{"ok":true' in daemon and '{"ok":false,"error":' in daemon
    assert "0600" in daemon and "/run/irqlat.sock" in daemon
    # Every request verb docs/daemon.md documents is in the man page too.
    doc = os.path.join(REPO, "docs", "daemon.md")
    if os.path.exists(doc):
        for cmd in set(re.findall(r'"cmd"\s*:\s*"(\w+)"', open(doc).read())):
            assert '{"cmd":"%s"' % cmd in daemon, "docs/daemon.md request %s not in irqlat.8" % cmd
    signals = man_sections[("SIGNALS", None)]
    for sig in ("SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1"):
        assert sig in signals, sig
    status = man_sections[("EXIT STATUS", None)]
    for code in ("0", "1", "2"):
        assert re.search(r"^ {7}%s\b" % code, status, re.M), code
    see_also = man_sections[("SEE ALSO", None)]
    for ref in ("bpftool(8)", "perf(1)", "systemd.exec(5)"):
        assert ref in see_also, ref


# ---------------------------------------------------------------- systemd

def test_systemd_analyze_verify_accepts_unit(installed, tmp_path):
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze is not installed")
    destdir, p = installed
    # The installed unit, with ExecStart's /usr/sbin/irqlat (which does not
    # exist outside DESTDIR) pointed at the same binary inside DESTDIR, and
    # MANPATH set so that Documentation=man:irqlat(8) resolves to the
    # installed page. Every other line is verified as installed.
    text = open(p["unit"]).read()
    assert text.count("/usr/sbin/irqlat") == 1
    unit = tmp_path / "irqlat.service"
    unit.write_text(text.replace("/usr/sbin/irqlat", p["bin"]))
    env = dict(os.environ, MANPATH=str(destdir) + "/usr/share/man", SYSTEMD_LOG_LEVEL="notice")
    out = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True,
                         timeout=60, env=env)
    # verify exits 0 on unknown keys and bad values, which it only warns about:
    # any output at all is a finding.
    assert out.returncode == 0 and out.stdout == "" and out.stderr == "", out.stdout + out.stderr
