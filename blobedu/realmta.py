"""Real Postfix and real Exim as the sending server, relaying to blobedu's Stalwart receiver on 127.0.0.1.

Why
---
:mod:`blobedu.schedules` and :mod:`blobedu.sender` model Postfix and Exim from their source and
documentation.  This module runs the real programs, so the model can be checked against them
(``tests/test_realmta.py``) and the notebooks can show what a mail admin would see: the log lines,
``postqueue -j`` and ``exim -bp``.

What runs
---------
* A Stalwart receiver on the real clock (:class:`blobedu.live.LiveDemo`: aiosmtpd on 127.0.0.1,
  storing through the Stalwart S3 model into a loopback moto server that can be unplugged).
* A capture server (aiosmtpd on 127.0.0.1) that receives the bounces the MTAs send to the author,
  so their ``Action:``/``Status:``/``Diagnostic-Code:`` can be read.
* One Postfix (Debian's 3.7) or one Exim (Debian's 4.96) instance, as root, with its own
  configuration, queue and log in a temporary folder: Postfix through ``postfix -c DIR``, Exim
  through ``exim -C FILE -bd -qINTERVAL``.  Both listen on 127.0.0.1 only, relay everything for
  ``receiver.test`` to the Stalwart receiver and everything for ``sender.test`` to the capture
  server, by IP address (no DNS: Postfix ``smtp_host_lookup=native`` and a bracketed relayhost,
  Exim a ``manualroute`` router with ``127.0.0.1 byname``).

The settings are compressed to seconds (``minimal_backoff_time=2s`` ...), and the outage is one
too: S3 is unplugged before the message is submitted and plugged back ``outage`` seconds later.

Recording
---------
Binder has no root, so the notebooks read transcripts recorded here and committed under
``notebooks/transcripts/``.  Regenerate them (as root, with Postfix and Exim installed the way
``.ci/run`` does) with::

    .venv/bin/python -m blobedu.realmta record

:func:`load`, :func:`show` and :func:`structure` read and render them without root.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import smtplib
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .errors import BlobeduError
from .packaged import transcripts_folder
from .sender import MAIL_FROM, RCPT_TO, sample_message

try:  # the wheel's copy (package data), or notebooks/transcripts in the clone: see blobedu.packaged
    TRANSCRIPTS = transcripts_folder()
except BlobeduError:  # a broken install: load() still looks beside the working directory
    TRANSCRIPTS = Path(__file__).resolve().parent.parent / "notebooks" / "transcripts"
POSTFIX = "/usr/sbin/postfix"
#: where .ci/run unpacks Debian's exim4-daemon-light (apt-get download + dpkg -x): Postfix and
#: Exim conflict in apt (both provide mail-transport-agent), so only Postfix is installed.
EXIM_ROOT = Path(os.environ.get("BLOBEDU_EXIM_ROOT", "/opt/blobedu-exim4"))
EXIM_USER = "Debian-exim"  # compiled into Debian's binary; exim4-base's postinst creates it


def exim_binary() -> Optional[str]:
    """Debian's Exim binary: unpacked under ``EXIM_ROOT``, or installed, or None."""
    for candidate in (EXIM_ROOT / "usr/sbin/exim4", Path("/usr/sbin/exim4")):
        if candidate.exists():
            return str(candidate)
    return None


def missing(mta: str) -> Optional[str]:
    """Why ``mta`` ("postfix" or "exim") cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "the real-MTA harness needs root (Postfix and Exim start as root)"
    if mta == "postfix":
        if not Path(POSTFIX).exists():
            return f"{POSTFIX} is missing (apt-get install postfix)"
        return None
    binary = exim_binary()
    if binary is None:
        return f"no Exim binary under {EXIM_ROOT} or /usr/sbin (see .ci/run)"
    import pwd

    try:
        pwd.getpwnam(EXIM_USER)
    except KeyError:
        return f"user {EXIM_USER} is missing (see .ci/run)"
    return None


def _free_port() -> int:
    from .endpoint import free_port

    return free_port()


def _workdir(prefix: str) -> Path:
    """A temporary folder the MTA's unprivileged users can traverse (pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix=f"blobedu-{prefix}-"))
    path.chmod(0o755)
    return path


# -- the receiving side -------------------------------------------------------------------------


class Capture:
    """An SMTP server on 127.0.0.1 that keeps every message it gets: the MTAs' bounces."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[dict[str, Any]] = []
        self.port = _free_port()
        capture = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                capture.messages.append({"t": time.monotonic(), "from": envelope.mail_from,
                                         "to": list(envelope.rcpt_tos),
                                         "text": envelope.original_content.decode("utf-8", "replace")})
                return "250 2.0.0 OK captured"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def close(self) -> None:
        self._controller.stop()


class Stalwart:
    """The receiving side on the real clock: blobedu's Stalwart receiver + loopback S3, and the capture server."""

    def __init__(self) -> None:
        from .live import LiveDemo

        self.demo = LiveDemo()
        self.capture = Capture()
        self.t0 = time.monotonic()

    @property
    def port(self) -> int:
        return self.demo.port

    def unplug(self) -> None:
        if self.demo.s3.plugged:
            self.demo.unplug()

    def plug(self) -> None:
        if not self.demo.s3.plugged:
            self.demo.plug()

    def slow_s3(self, specs: list[str]) -> None:
        """S3 faults from now on, on the receiver's real clock (e.g. ``["503@0-5"]``)."""
        from .faults import plan

        store = self.demo.receiver.store
        store.faults = plan(specs)
        store.origin = self.demo.receiver.clock.now()

    def data_log(self) -> list[dict[str, Any]]:
        """Every DATA the receiver got: when its dot came and what it answered (None: still storing)."""
        clock_now = self.demo.receiver.clock.now()
        offset = time.monotonic() - clock_now  # receiver clock -> monotonic
        return [{"dot": r.t_dot + offset, "reply": r.reply,
                 "replied": None if r.replied_at is None else r.replied_at + offset}
                for r in self.demo.receiver.data_log]

    def copies(self) -> int:
        """Messages the receiver accepted with a 250."""
        return len(self.demo.receiver.accepted)

    def close(self) -> None:
        try:
            self.demo.close()
        finally:
            self.capture.close()


# -- Postfix --------------------------------------------------------------------------------------

_POSTFIX_MASTER = """\
{listen} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


@dataclass
class PostfixSettings:
    """The Postfix parameters the model has too (postconf(5) names, seconds)."""

    minimal_backoff_time: float = 2
    maximal_backoff_time: float = 8
    queue_run_delay: float = 2
    maximal_queue_lifetime: float = 3600
    smtp_data_done_timeout: float = 600

    def main_cf(self) -> dict[str, str]:
        d = {k: f"{v:g}s" for k, v in vars(self).items()}
        # a bounce of the author's own message would wait as long; keep it the same
        d["bounce_queue_lifetime"] = d["maximal_queue_lifetime"]
        return d


class Postfix:
    """One real Postfix instance (``postfix -c DIR``) relaying to ``relay_port`` on 127.0.0.1."""

    name = "postfix"

    def __init__(self, relay_port: int, capture_port: int, settings: PostfixSettings) -> None:
        self.settings = settings
        self.dir = _workdir("postfix")
        self.conf = self.dir / "etc"
        self.conf.mkdir()
        self.log_path = self.dir / "postfix.log"
        self.port = _free_port()
        params = {
            "compatibility_level": "3.6",
            "queue_directory": str(self.dir / "spool"),
            "data_directory": str(self.dir / "data"),
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": "mta.sender.test",
            "mydomain": "sender.test",
            "myorigin": "sender.test",
            "mydestination": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject",
            "relayhost": f"[127.0.0.1]:{relay_port}",
            "default_transport": "smtp",
            "relay_transport": "smtp",
            # bounces to the author go to the capture server
            "transport_maps": f"inline:{{ sender.test=smtp:[127.0.0.1]:{capture_port} }}",
            "smtp_host_lookup": "native",
            "disable_dns_lookups": "yes",
            "smtp_tls_security_level": "none",
            "smtpd_tls_security_level": "none",
            "delay_warning_time": "0",
            "maillog_file": str(self.log_path),
            "maillog_file_prefixes": "/tmp, /var",
            "biff": "no",
            "append_dot_mydomain": "no",
            **settings.main_cf(),
        }
        self.params = params
        (self.conf / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in params.items()))
        (self.conf / "master.cf").write_text(_POSTFIX_MASTER.format(listen=f"127.0.0.1:{self.port}"))

    def _run(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run([*args], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "MAIL_CONFIG": str(self.conf)})
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def start(self) -> None:
        import pwd

        (self.dir / "spool").mkdir()
        (self.dir / "data").mkdir()
        owner = pwd.getpwnam("postfix")
        os.chown(self.dir / "data", owner.pw_uid, owner.pw_gid)
        self._run(POSTFIX, "-c", str(self.conf), "check")  # creates the queue's subfolders
        self._run(POSTFIX, "-c", str(self.conf), "start")
        _wait_port(self.port)

    def stop(self) -> None:
        self._run(POSTFIX, "-c", str(self.conf), "stop", check=False)

    def version(self) -> str:
        return "Postfix " + self._run("/usr/sbin/postconf", "-c", str(self.conf), "-h", "mail_version").strip()

    def queue(self) -> list[dict[str, Any]]:
        """``postqueue -j``: one JSON object per queued message."""
        out = self._run("/usr/sbin/postqueue", "-c", str(self.conf), "-j", check=False)
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def queue_text(self) -> str:
        """``postqueue -j``, as printed."""
        return self._run("/usr/sbin/postqueue", "-c", str(self.conf), "-j", check=False)

    def log(self) -> list[str]:
        return self.log_path.read_text().splitlines() if self.log_path.exists() else []

    def attempts(self) -> list[dict[str, Any]]:
        """Every delivery attempt to receiver.test, from the log: start and end (seconds since the
        message arrived), status, and the receiver's reply (or ``timeout``).

        ``delay=`` is the time since arrival when the attempt ended; ``delays=a/b/c/d`` splits it,
        ``d`` being the SMTP conversation itself, so the attempt started at ``delay - d``.
        """
        out = []
        for line in self.log():
            m = re.search(r" [0-9A-F]+: to=<reader@receiver\.test>.* delay=([\d.]+), "
                          r"delays=[\d.]+/[\d.]+/[\d.]+/([\d.]+),"
                          r".* status=(\w+) \((.*)\)$", line)
            if m:
                end = float(m.group(1))
                out.append({"t": round(end - float(m.group(2)), 2), "end": end, "status": m.group(3),
                            "reply": _postfix_reply(m.group(4)), "log": line})
        return out

    def finished(self) -> bool:
        return any(re.search(r": removed$", line) for line in self.log())

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _postfix_reply(text: str) -> str:
    """The receiver's reply inside Postfix's status text, or Postfix's own reason (a timeout)."""
    m = re.search(r"said: (\d{3} .*?) \(in reply to", text)
    if m:
        return m.group(1)
    m = re.search(r"^(\d{3} .*)$", text)
    if m:
        return m.group(1).strip()
    if "timed out" in text:
        return "timeout"
    return text


# -- Exim -------------------------------------------------------------------------------------

@dataclass
class EximSettings:
    """The Exim settings the model has too: the retry rule, the queue-runner interval, final_timeout."""

    retry: str = "F,20s,2s"
    queue_interval: float = 2
    final_timeout: float = 600

    def rules(self) -> list[tuple]:
        """The retry rule parsed: ``("F", cutoff, interval)`` or ``("G", cutoff, interval, factor)``."""
        from .durations import parse_duration

        out = []
        for part in self.retry.split(";"):
            kind, cutoff, interval, *rest = [p.strip() for p in part.split(",")]
            row = (kind, parse_duration(cutoff), parse_duration(interval))
            out.append(row + ((float(rest[0]),) if rest else ()))
        return out


_EXIM_CONF = """\
primary_hostname = mta.sender.test
exim_path = {binary}
tls_advertise_hosts =
qualify_domain = sender.test
exim_user = {user}
exim_group = {user}
spool_directory = {dir}/spool
log_file_path = {dir}/log/%slog
pid_file_path = {dir}/exim.pid
log_selector = +millisec +deliver_time +queue_time
daemon_smtp_ports = {port}
local_interfaces = 127.0.0.1
disable_ipv6 = true
host_lookup =
rfc1413_hosts =
trusted_users = root
never_users =
keep_environment =
delay_warning = 0s
acl_smtp_rcpt = acl_rcpt
acl_smtp_data = acl_data

begin acl
acl_rcpt:
  accept hosts = 127.0.0.1
  deny
acl_data:
  accept

begin routers
author:
  driver = manualroute
  domains = sender.test
  transport = to_capture
  route_list = * 127.0.0.1 byname
  self = send
stalwart:
  driver = manualroute
  domains = receiver.test
  transport = to_stalwart
  route_list = * 127.0.0.1 byname
  self = send

begin transports
to_stalwart:
  driver = smtp
  port = {relay_port}
  allow_localhost
  final_timeout = {final_timeout}s
  hosts_try_fastopen = :
to_capture:
  driver = smtp
  port = {capture_port}
  allow_localhost
  hosts_try_fastopen = :

begin retry
* * {retry}
"""


class Exim:
    """One real Exim daemon (``exim -C FILE -bd -qINTERVAL``) relaying to ``relay_port`` on 127.0.0.1."""

    name = "exim"

    def __init__(self, relay_port: int, capture_port: int, settings: EximSettings) -> None:
        import pwd

        self.settings = settings
        self.binary = exim_binary()
        self.dir = _workdir("exim")
        self.port = _free_port()
        entry = pwd.getpwnam(EXIM_USER)
        for sub in ("spool", "log"):
            (self.dir / sub).mkdir()
            os.chown(self.dir / sub, entry.pw_uid, entry.pw_gid)
        self.conf = self.dir / "exim.conf"
        self.conf.write_text(_EXIM_CONF.format(binary=self.binary, user=EXIM_USER, dir=self.dir, port=self.port,
                                               relay_port=relay_port,
                                               capture_port=capture_port, final_timeout=f"{settings.final_timeout:g}",
                                               retry=settings.retry))
        self.proc: Optional[subprocess.Popen] = None

    def _run(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run([self.binary, "-C", str(self.conf), *args], capture_output=True, text=True, timeout=60)
        if check and proc.returncode != 0:
            raise RuntimeError(f"exim {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def start(self) -> None:
        # -bdf: stay in the foreground, so this process owns it; -qTIME: a queue runner every TIME
        self.proc = subprocess.Popen([self.binary, "-C", str(self.conf), "-bdf",
                                      f"-q{self.settings.queue_interval:g}s"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_port(self.port)
        except RuntimeError:
            panic = self.dir / "log" / "paniclog"
            raise RuntimeError(f"Exim did not start: {panic.read_text() if panic.exists() else 'no paniclog'}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def version(self) -> str:
        first = self._run("-bV", check=False).splitlines()[0]
        return " ".join(first.split()[:3])

    def queue_text(self) -> str:
        """``exim -bp``, as printed."""
        return self._run("-bp", check=False)

    def log(self) -> list[str]:
        path = self.dir / "log" / "mainlog"
        return path.read_text().splitlines() if path.exists() else []

    def attempts(self) -> list[dict[str, Any]]:
        """Every delivery attempt to receiver.test (an SMTP session, ``H=``), from the main log:
        start and end (seconds since the message arrived), status, reply.

        The line is written when the attempt ends; ``DT=`` is how long it took.  Queue runs that
        find the retry time not reached (``defer (-54)``, no ``H=``) are not attempts.
        """
        arrival: Optional[float] = None
        out = []
        for line in self.log():
            m = re.match(r"(\S+ \S+) (\S+) (<=|=>|==|\*\*) (\S+)(.*)$", line)
            if not m:
                continue
            t, flag, addr, rest = _exim_time(m.group(1)), m.group(3), m.group(4), m.group(5)
            if flag == "<=" and arrival is None and addr == MAIL_FROM:
                arrival = t
                continue
            if addr != RCPT_TO or arrival is None or " H=" not in rest:
                continue
            dt = re.search(r" DT=([\d.]+)s", rest)
            end = t - arrival
            start = end - (float(dt.group(1)) if dt else 0.0)
            status = {"=>": "sent", "==": "deferred", "**": "bounced"}[flag]
            out.append({"t": round(start, 2), "end": round(end, 2), "status": status, "reply": _exim_reply(rest),
                        "log": line})
        return out

    def finished(self) -> bool:
        return any(line.endswith(" Completed") for line in self.log())

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _exim_time(stamp: str) -> float:
    from datetime import datetime

    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()


def _exim_reply(rest: str) -> str:
    m = re.search(r"after end of data: (\d{3} .*)$", rest)
    if m:
        return m.group(1)
    m = re.search(r' C="(\d{3} [^"]*)"', rest)
    if m:
        return m.group(1)
    if "timed out" in rest or "timeout" in rest:
        return "timeout"
    return rest.strip()


def _wait_port(port: int, seconds: float = 120.0) -> None:
    import socket

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds:g}s")


def submit(port: int, subject: str) -> str:
    """Hand one message to the MTA over SMTP on 127.0.0.1; returns its reply to the final dot."""
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.sender.test", timeout=30) as smtp:
        smtp.ehlo()
        smtp.mail(MAIL_FROM)
        smtp.rcpt(RCPT_TO)
        code, text = smtp.data(sample_message(subject))
        return f"{code} {text.decode()}"


# -- scenarios -------------------------------------------------------------------------------

POSTFIX_FAST = dict(minimal_backoff_time=2, maximal_backoff_time=8, queue_run_delay=2)
EXIM_QUEUE_INTERVAL = 2


@dataclass(frozen=True)
class Scenario:
    """One outage, scaled to seconds: S3 is unplugged before the message and plugged back at ``plug``."""

    name: str
    mta: str
    title: str
    plug: Optional[float]  # seconds after the MTA accepted the message; None: never (the message expires)
    settings: dict = field(default_factory=dict)
    slow_s3: tuple = ()  # instead of unplugging: S3 faults from submission on (the duplicate)
    # give up waiting after this many seconds: a wait for the MTA to finish (it ends as soon as it has),
    # far above what any scenario needs, so that a busy machine cannot cut a transcript short
    limit: float = 300.0

    def mta_settings(self):
        if self.mta == "postfix":
            return PostfixSettings(**self.settings)
        return EximSettings(**self.settings)


#: The number of attempts must not depend on the phase of the real queue runs (every 2 s from the
#: daemon's start, not from the message's arrival).  An attempt that starts less than 1 s before the
#: plug gets a 250 (Stalwart's hidden transport retry comes 1 s later), so each plug time is chosen
#: so that ``plug - 1`` falls in the middle of a gap between the attempts of every phase, with a
#: queue run to spare; likewise Exim's 11 s cutoff falls between two failures.
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("postfix_short", "postfix", "Postfix, S3 down for 6 s", 6.0, dict(POSTFIX_FAST)),
    Scenario("postfix_long", "postfix", "Postfix, S3 down for 28 s (past maximal_backoff_time=8s)", 28.0,
             dict(POSTFIX_FAST)),
    Scenario("postfix_expiry", "postfix", "Postfix, S3 never back, maximal_queue_lifetime=20s", None,
             dict(POSTFIX_FAST, maximal_queue_lifetime=20)),
    Scenario("exim_short", "exim", "Exim, S3 down for 7 s", 7.0,
             dict(retry="F,6s,2s; G,60s,3s,2", queue_interval=EXIM_QUEUE_INTERVAL)),
    Scenario("exim_long", "exim", "Exim, S3 down for 28 s (past the F rule, into the G rule)", 28.0,
             dict(retry="F,6s,2s; G,60s,3s,2", queue_interval=EXIM_QUEUE_INTERVAL)),
    Scenario("exim_expiry", "exim", "Exim, S3 never back, retry rule F,11s,2s", None,
             dict(retry="F,11s,2s", queue_interval=EXIM_QUEUE_INTERVAL)),
    Scenario("postfix_duplicate", "postfix",
             "Postfix with smtp_data_done_timeout=3s; S3 answers 503 for 5 s, so Stalwart's store loop takes 7 s",
             None, dict(POSTFIX_FAST, smtp_data_done_timeout=3), slow_s3=("503@0-5",)),
)


def scenario(name: str) -> Scenario:
    for s in SCENARIOS:
        if s.name == name:
            return s
    raise KeyError(name)


def _make_mta(sc: Scenario, side: Stalwart):
    cls = Postfix if sc.mta == "postfix" else Exim
    return cls(side.port, side.capture.port, sc.mta_settings())


def _dsn_fields(text: str) -> dict[str, str]:
    """Action, Status and Diagnostic-Code of a bounce's message/delivery-status part."""
    from email import message_from_string

    out: dict[str, str] = {}
    msg = message_from_string(text)
    for part in msg.walk():
        if part.get_content_type() == "message/delivery-status":
            for block in part.get_payload():
                for key in ("Action", "Status", "Diagnostic-Code", "Final-Recipient", "Reporting-MTA"):
                    if block.get(key):
                        out[key] = " ".join(str(block[key]).split())
    for key in ("Subject", "From"):
        out[key] = " ".join(str(msg[key]).split())
    return out


def run(sc: Scenario) -> dict[str, Any]:
    """Run one scenario through the real MTA; returns its transcript (see :func:`structure`)."""
    side = Stalwart()
    mta = _make_mta(sc, side)
    try:
        mta.start()
        if sc.slow_s3:
            side.slow_s3(list(sc.slow_s3))
        else:
            side.unplug()
        t0 = time.monotonic()
        submitted = submit(mta.port, sc.title)
        queue_snapshot = None
        plugged_at = None
        while time.monotonic() - t0 < sc.limit:
            now = time.monotonic() - t0
            attempts = mta.attempts()
            if queue_snapshot is None and any(a["status"] == "deferred" for a in attempts):
                queue_snapshot = mta.queue_text()
            if sc.plug is not None and plugged_at is None and now >= sc.plug:
                side.plug()
                plugged_at = round(now, 3)
            if mta.finished() and (sc.plug is not None or sc.slow_s3 or side.capture.messages):
                break
            time.sleep(0.2)
        # let a slow store loop finish, so every copy is counted
        deadline = time.monotonic() + 120
        while any(r["reply"] is None for r in side.data_log()) and time.monotonic() < deadline:
            time.sleep(0.2)
        attempts = mta.attempts()
        log = [line for line in mta.log() if _about_message(line, mta)]
        bounce = _dsn_fields(side.capture.messages[0]["text"]) if side.capture.messages else None
        return {
            "scenario": sc.name, "title": sc.title, "mta": sc.mta, "version": mta.version(),
            "settings": _jsonable(vars(sc.mta_settings())), "plug": sc.plug, "plugged_at": plugged_at,
            "slow_s3": list(sc.slow_s3),
            "submitted": submitted,
            "attempts": [{k: a[k] for k in ("t", "end", "status", "reply")} for a in attempts],
            "fate": _fate(attempts, bounce),
            "copies": side.copies(),
            "bounce": bounce,
            "bounce_text": side.capture.messages[0]["text"] if side.capture.messages else None,
            "queue": queue_snapshot,
            "queue_command": "postqueue -j" if sc.mta == "postfix" else "exim -bp",
            "log": log,
            "receiver": [{"dot": round(r["dot"] - t0, 2), "reply": r["reply"],
                          "replied": None if r["replied"] is None else round(r["replied"] - t0, 2)}
                         for r in side.data_log()],
            "command": RECORD_COMMAND,
        }
    finally:
        try:
            mta.close()
        finally:
            side.close()


RECORD_COMMAND = ".venv/bin/python -m blobedu.realmta record"


def _jsonable(d: dict) -> dict:
    return {k: (v if isinstance(v, (int, float, str)) else str(v)) for k, v in d.items()}


def _fate(attempts: list[dict], bounce: Optional[dict]) -> str:
    if any(a["status"] == "sent" for a in attempts):
        return "delivered"
    if bounce is not None or any(a["status"] == "bounced" for a in attempts):
        return "bounced"
    return "queued"


def _about_message(line: str, mta) -> bool:
    """Log lines about the test message (and its bounce), not the daemons' housekeeping."""
    if isinstance(mta, Postfix):
        return bool(re.search(r": [0-9A-F]{6,}: ", line))
    return bool(re.search(r" \w{6}-\w{6}-\w{2,4} ", line))


# -- the model, on the same settings -------------------------------------------------------------


def model_schedule(sc: Scenario):
    """The model's schedule with the same knobs as the real configuration."""
    from . import schedules

    st = sc.mta_settings()
    if sc.mta == "postfix":
        return schedules.postfix(minimal_backoff_time=st.minimal_backoff_time,
                                 maximal_backoff_time=st.maximal_backoff_time,
                                 queue_run_delay=st.queue_run_delay,
                                 maximal_queue_lifetime=st.maximal_queue_lifetime,
                                 smtp_data_done_timeout=st.smtp_data_done_timeout)
    return schedules.exim(rules=st.retry, queue_interval=st.queue_interval, final_timeout=st.final_timeout)


def model_faults(sc: Scenario, plug: Optional[float] = None) -> list[str]:
    """The real outage as fault windows on the model's clock (0 = the message is queued)."""
    if sc.slow_s3:
        return list(sc.slow_s3)
    plug = sc.plug if plug is None else plug
    return ["refused@0"] if plug is None else [f"refused@0-{plug:g}"]


def model(sc: Scenario, plug: Optional[float] = None) -> dict[str, Any]:
    """The same outage through :func:`blobedu.delivery.deliver` (virtual time), shaped like a transcript."""
    from .delivery import DeliveryConfig, deliver

    schedule = model_schedule(sc)

    class _Config(DeliveryConfig):
        def schedule(self):  # the real configuration's knobs instead of the sender's defaults
            return schedule

    trace = deliver(model_faults(sc, plug), _Config(sender=sc.mta))
    attempts = [{"t": round(x.t, 2), "end": round(x.ended, 2),
                 "status": "sent" if x.reply.startswith("2") else "deferred", "reply": x.reply}
                for x in trace.sessions]
    failed = [d for d in trace.dsns if d["kind"] == "failed" and d["origin"] == "sender"]
    bounce = {"Action": "failed", "Status": failed[0]["status"], "Diagnostic-Code": failed[0]["diagnostic"]} \
        if failed else None
    return {"scenario": sc.name, "mta": sc.mta, "attempts": attempts, "fate": trace.fate, "copies": trace.copies,
            "bounce": bounce, "schedule": schedule.describe(), "faults": model_faults(sc, plug)}


#: Both MTAs keep retry times in whole seconds (Postfix: the queue file's st_mtime against
#: time(NULL), qmgr_active.c:160,202; Exim: retry records' time_t next_try against time(NULL),
#: retry.c:219,247), so an attempt can fall up to 1 s later than the queue run alone would allow.
CLOCK_RESOLUTION = 1.0


def granularity(sc: Scenario) -> float:
    """The real scheduler's granularity: one queue run, plus its one-second clock."""
    st = sc.mta_settings()
    return float(st.queue_run_delay if sc.mta == "postfix" else st.queue_interval) + CLOCK_RESOLUTION


def one_step(transcript: dict[str, Any]) -> list[Optional[float]]:
    """For each real attempt after the first, the model's next attempt given the real failures before it
    (None: the model would bounce there).  The last entry is the model's answer after the last real
    attempt when that one failed: None if it bounces, like the real MTA did."""
    schedule = model_schedule(scenario(transcript["scenario"]))
    ends: list[float] = []
    out: list[Optional[float]] = []
    for attempt in transcript["attempts"]:
        if attempt["status"] == "sent":
            break
        ends.append(float(attempt["end"]))
        out.append(schedule.next_attempt(0.0, ends))
    return out


def compare(transcript: dict[str, Any]) -> dict[str, Any]:
    """Real against model for one transcript.

    Two views: the model run on its own (:func:`model`: count, replies, fate, copies, bounce Status,
    and each attempt's time), and step by step (:func:`one_step`: each real attempt against the
    model's next attempt after the same real failures).  Times must agree within
    :func:`granularity`."""
    sc = scenario(transcript["scenario"])
    predicted = model(sc, transcript.get("plugged_at"))
    real_s, model_s = structure(transcript), structure(predicted)
    diffs = [round(m["t"] - r["t"], 2) for r, m in zip(transcript["attempts"], predicted["attempts"])]
    steps = one_step(transcript)
    real_next = [a["t"] for a in transcript["attempts"][1:]]
    step_diffs = [None if p is None else round(p - r, 2) for p, r in zip(steps, real_next)]
    bounced = transcript["fate"] == "bounced"
    tolerance = granularity(sc)
    return {
        "real": transcript["attempts"], "model": predicted["attempts"], "differences": diffs,
        "step_differences": step_diffs, "tolerance": tolerance,
        "same_count": len(transcript["attempts"]) == len(predicted["attempts"]),
        "same_replies": real_s["attempts"] == model_s["attempts"],
        "same_fate": real_s["fate"] == model_s["fate"],
        "same_copies": real_s["copies"] == model_s["copies"],
        "same_bounce_status": (real_s["bounce"] or {}).get("Status") == (model_s["bounce"] or {}).get("Status"),
        "times_within": all(abs(d) <= tolerance for d in diffs),
        "steps_within": (all(d is not None and abs(d) <= tolerance for d in step_diffs)
                         and (not bounced or steps[-1] is None)),
        "model_bounce": predicted["bounce"], "schedule": predicted["schedule"],
        "model_fate": predicted["fate"], "model_copies": predicted["copies"],
    }


def compare_table(name: str, folder: Path = TRANSCRIPTS) -> str:
    """Real attempts beside the model's, one line each (for the notebooks)."""
    return compare_table_for(load(name, folder))


def compare_table_for(tr: dict[str, Any]) -> str:
    """:func:`compare_table` for a transcript in hand."""
    c = compare(tr)
    lines = [f"{tr['title']}: real {tr['version']} vs the model ({c['schedule']})",
             f"{'#':>2}  {'real at':>8}  {'model at':>8}  reply (real | model)"]
    for i in range(max(len(c["real"]), len(c["model"]))):
        r = c["real"][i] if i < len(c["real"]) else None
        m = c["model"][i] if i < len(c["model"]) else None
        rt = f"{r['t']:7.1f}s" if r else "       -"
        mt = f"{m['t']:7.1f}s" if m else "       -"
        rr = normalise(r["reply"]) if r else "-"
        mr = normalise(m["reply"]) if m else "-"
        lines.append(f"{i + 1:>2}  {rt:>8}  {mt:>8}  {rr}" + ("" if rr == mr else f" | {mr}"))
    lines.append(f"fate: real {tr['fate']}, model {c['model_fate']}; copies the receiver accepted: real "
                 f"{tr['copies']}, model {c['model_copies']}; every attempt within a queue run and "
                 f"a second ({c['tolerance']:g} s): {'yes' if c['times_within'] else 'NO'}; step by step "
                 f"(after the same real failures): {'yes' if c['steps_within'] else 'NO'}")
    if tr.get("bounce"):
        b, mb = tr["bounce"], c["model_bounce"] or {}
        lines.append(f"bounce Status: real {b.get('Status')}, model {mb.get('Status')}")
        lines.append(f"bounce Diagnostic-Code: real {b.get('Diagnostic-Code')}")
        lines.append(f"                        model {mb.get('Diagnostic-Code')}")
    return "\n".join(lines)


# -- transcripts: record, load, show ------------------------------------------------------------


def record(names: Optional[list[str]] = None, outdir: Path = TRANSCRIPTS) -> list[Path]:
    """Run the scenarios through the real MTAs and write ``outdir/NAME.json``; returns the paths."""
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for sc in SCENARIOS:
        if names and sc.name not in names:
            continue
        why = missing(sc.mta)
        if why:
            raise RuntimeError(f"cannot record {sc.name}: {why}")
        t0 = time.monotonic()
        transcript = run(sc)
        transcript["recorded_seconds"] = round(time.monotonic() - t0, 1)
        path = outdir / f"{sc.name}.json"
        path.write_text(json.dumps(transcript, indent=1, ensure_ascii=False) + "\n")
        paths.append(path)
        print(f"{sc.name}: {len(transcript['attempts'])} attempts, {transcript['fate']}, "
              f"{transcript['copies']} cop{'y' if transcript['copies'] == 1 else 'ies'} "
              f"({transcript['recorded_seconds']:g} s) -> {path}")
    return paths


def load(name: str, folder: Path = TRANSCRIPTS) -> dict[str, Any]:
    """A recorded transcript (``name`` such as ``postfix_short``).

    They ship with the package (:mod:`blobedu.packaged`); only if they are missing there are they
    looked for from the working directory (a notebook runs in ``notebooks/``).
    """
    folder = Path(folder)
    if not folder.exists() and folder == TRANSCRIPTS:
        for candidate in (Path.cwd() / "transcripts", Path.cwd() / "notebooks" / "transcripts"):
            if candidate.exists():
                folder = candidate
                break
    return json.loads((folder / f"{name}.json").read_text())


def normalise(reply: str) -> str:
    """A reply without its queue id, so two runs compare equal."""
    return re.sub(r"with id [0-9a-f]+", "with id ID", reply or "")


def structure(transcript: dict[str, Any]) -> dict[str, Any]:
    """What must stay the same from run to run: the attempts' statuses and replies, the fate, the copies, the bounce."""
    bounce = transcript.get("bounce") or {}
    return {
        "attempts": [(a["status"], normalise(a["reply"])) for a in transcript["attempts"]],
        "fate": transcript["fate"],
        "copies": transcript["copies"],
        "bounce": {k: bounce.get(k) for k in ("Action", "Status")} if bounce else None,
    }


def show(name: str, folder: Path = TRANSCRIPTS, log: bool = True, receiver: bool = False) -> None:
    """Print a transcript the way an admin reads it: settings, the MTA's log, its queue, the bounce."""
    tr = load(name, folder)
    print(f"{tr['title']}  [{tr['version']}, recorded with: {tr['command']}]")
    print("settings: " + ", ".join(f"{k}={v}" for k, v in tr["settings"].items()))
    if log:
        print(f"\n--- {'maillog' if tr['mta'] == 'postfix' else 'exim mainlog'} (lines about the message) ---")
        for line in tr["log"]:
            print(line)
    if tr.get("queue"):
        print(f"\n--- {tr['queue_command']} after the first deferral ---")
        print(tr["queue"].rstrip())
    if tr.get("bounce"):
        print("\n--- the bounce the author got (message/delivery-status) ---")
        for key in ("Subject", "Action", "Status", "Diagnostic-Code"):
            if key in tr["bounce"]:
                print(f"{key}: {tr['bounce'][key]}")
    if receiver:
        print("\n--- what the Stalwart receiver answered (seconds after the MTA accepted the message) ---")
        for r in tr["receiver"]:
            print(f"final dot at {r['dot']:5.1f} s -> {normalise(r['reply']) or '(no reply)'} at {r['replied']:.1f} s")
    print(f"\nattempts: {len(tr['attempts'])}; fate: {tr['fate']}; copies the receiver accepted: {tr['copies']}")


def main(argv: Optional[list[str]] = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m blobedu.realmta",
                                     description="Run real Postfix and Exim against blobedu's Stalwart receiver.")
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="record the transcripts under notebooks/transcripts/ (root; Postfix, Exim)")
    rec.add_argument("names", nargs="*", help="scenarios (default: all): " + ", ".join(s.name for s in SCENARIOS))
    rec.add_argument("--out", type=Path, default=TRANSCRIPTS)
    shw = sub.add_parser("show", help="print a recorded transcript")
    shw.add_argument("name")
    args = parser.parse_args(argv)
    if args.command == "record":
        record(args.names or None, args.out)
    else:
        show(args.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
