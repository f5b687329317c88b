"""A real check of the ``postfix-local`` design: Debian's Postfix as the receiving server, mail to local disk.

Why
---
None of the object-store servers can be built or installed here, but Postfix can (``.ci/run``
installs it for :mod:`blobedu.realmta`).  So the local-disk baseline is checked against the real
program: one Postfix instance (``postfix -c DIR``, as root, listening on 127.0.0.1 only) is the
final destination for ``receiver.test`` and delivers into a Maildir under its own temporary folder
(the ``virtual`` delivery agent; the mailbox on the same disk as the queue, as the model says).

What is checked (:func:`check`)
-------------------------------
* the reply to the final dot has the model's form, ``250 2.0.0 Ok: queued as <ID>``
  (:data:`blobedu.servers.postfix_local.REPLY_OK`);
* after that 250 the message is on this node's disk: in the queue, then in the Maildir;
* a full disk: with ``queue_minfree`` above the free space, Postfix refuses the **MAIL FROM** with
  :data:`~blobedu.servers.postfix_local.REPLY_DISK_FULL`, before any DATA, so the sender keeps it.

The model answers a full disk at the final dot (its receivers decide there); the sender's reaction,
a 4xx and a retry, is the same.  Needs root and ``/usr/sbin/postfix``; :func:`unavailable` says why not.
"""

from __future__ import annotations

import os
import re
import shutil
import smtplib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..realmta import POSTFIX, TRANSCRIPTS, Postfix, PostfixSettings
from ..sender import MAIL_FROM, RCPT_TO, sample_message
from .postfix_local import REPLY_DISK_FULL

#: ``virtual(8)`` is not in realmta's master.cf (its Postfix only relays)
_VIRTUAL = "virtual   unix  -       n       n       -       -       virtual\n"
REPLY_OK_FORM = re.compile(r"250 2\.0\.0 Ok: queued as [0-9A-F]+")


def unavailable() -> Optional[str]:
    """Why the check cannot run here (not root, no Postfix), or None."""
    if os.geteuid() != 0:
        return "needs root (Postfix's master runs as root)"
    if not Path(POSTFIX).exists():
        return f"{POSTFIX} is missing (apt-get install postfix)"
    return None


class LocalPostfix(Postfix):
    """A real Postfix that is the final destination of ``receiver.test``, into a Maildir on its own disk."""

    def __init__(self, queue_minfree: Optional[int] = None) -> None:
        super().__init__(relay_port=9, capture_port=9, settings=PostfixSettings())
        import pwd

        nobody = pwd.getpwnam("nobody")
        self.mail = self.dir / "mail"
        extra = {
            "relayhost": "",
            "transport_maps": "",
            "virtual_mailbox_domains": "receiver.test",
            "virtual_mailbox_base": str(self.mail),
            "virtual_mailbox_maps": f"inline:{{ {RCPT_TO}=reader/ }}",
            "virtual_uid_maps": f"static:{nobody.pw_uid}",
            "virtual_gid_maps": f"static:{nobody.pw_gid}",
            "virtual_minimum_uid": str(min(nobody.pw_uid, 100)),
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
        }
        if queue_minfree is not None:
            extra["queue_minfree"] = str(queue_minfree)
        self.params.update(extra)
        (self.conf / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in self.params.items()))
        with open(self.conf / "master.cf", "a") as f:
            f.write(_VIRTUAL)

    def start(self) -> None:
        """Start Postfix with an empty Maildir root owned by the delivery user."""
        import pwd

        super().start()
        nobody = pwd.getpwnam("nobody")
        self.mail.mkdir(exist_ok=True)
        os.chown(self.mail, nobody.pw_uid, nobody.pw_gid)

    def on_disk(self, queue_id: str) -> list[str]:
        """Where the message is on this node's disk now: queue files named by its id, Maildir files."""
        spool = self.dir / "spool"
        found = [str(p.relative_to(self.dir)) for p in spool.rglob(queue_id)]
        found += [str(p.relative_to(self.dir)) for p in (self.mail / "reader").rglob("*") if p.is_file()] \
            if (self.mail / "reader").exists() else []
        return found


@dataclass
class Check:
    """What the real Postfix did: its replies and where the message was on disk."""

    version: str = ""
    data_reply: str = ""
    queue_id: str = ""
    on_disk_after_250: list[str] = field(default_factory=list)
    maildir: list[str] = field(default_factory=list)
    maildir_has_body: bool = False
    full_disk_mail_reply: str = ""
    log_tail: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return dict(vars(self))


def _send(port: int) -> tuple[str, str]:
    """One real SMTP transaction: (the reply to the final dot, or to MAIL FROM if it was refused)."""
    with smtplib.SMTP("127.0.0.1", port, local_hostname="mta.sender.test", timeout=30) as smtp:
        smtp.ehlo()
        code, text = smtp.mail(MAIL_FROM)
        if code != 250:
            return "MAIL", f"{code} {text.decode()}"
        smtp.rcpt(RCPT_TO)
        code, text = smtp.data(sample_message())
        return "DATA", f"{code} {text.decode()}"


def check(wait: float = 20.0) -> Check:
    """Run both checks against real Postfix instances; each is stopped and removed afterwards."""
    why = unavailable()
    if why:
        raise RuntimeError(f"the real Postfix check cannot run: {why}")
    result = Check()
    mta = LocalPostfix()
    try:
        mta.start()
        result.version = mta.version()
        _, result.data_reply = _send(mta.port)
        m = re.search(r"queued as ([0-9A-F]+)", result.data_reply)
        result.queue_id = m.group(1) if m else ""
        result.on_disk_after_250 = mta.on_disk(result.queue_id) if result.queue_id else []
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            new = mta.mail / "reader" / "new"  # a Maildir file moves from tmp/ to new/ once delivered
            files = [p for p in new.iterdir() if p.is_file()] if new.exists() else []
            if files:
                result.maildir = [str(p.relative_to(mta.dir)) for p in files]
                result.maildir_has_body = any(b"Where does this message live" in p.read_bytes() for p in files)
                break
            time.sleep(0.2)
        result.log_tail = mta.log()[-6:]
    finally:
        mta.close()
    # a "full" disk: ask for more free space than the file system has
    free = shutil.disk_usage(tempfile_root()).free
    full = LocalPostfix(queue_minfree=free * 4 + (1 << 30))
    try:
        full.start()
        _, result.full_disk_mail_reply = _send(full.port)
    finally:
        full.close()
    return result


def tempfile_root() -> str:
    """The folder Postfix's temporary directories are made in."""
    import tempfile

    return tempfile.gettempdir()


def agrees(result: Check) -> list[str]:
    """What in ``result`` disagrees with the postfix-local model (empty: it agrees)."""
    problems = []
    if not REPLY_OK_FORM.fullmatch(result.data_reply):
        problems.append(f"final-dot reply {result.data_reply!r} is not '250 2.0.0 Ok: queued as <ID>'")
    if not (result.on_disk_after_250 or result.maildir):
        problems.append("the message was not on local disk after the 250")
    if not result.maildir_has_body:
        problems.append("the message never reached the Maildir")
    if result.full_disk_mail_reply != REPLY_DISK_FULL:
        problems.append(f"a full disk answered {result.full_disk_mail_reply!r}, not {REPLY_DISK_FULL!r}")
    return problems


# the transcripts folder of the clone, or of the installed package (blobedu.packaged, through realmta)
TRANSCRIPT = TRANSCRIPTS / "postfix_local_check.json"


def record(path: Path = TRANSCRIPT) -> Check:
    """Run :func:`check` (as root) and keep its result for notebook 08 (Binder has no root)."""
    import json

    result = check()
    path.write_text(json.dumps({"check": result.to_dict(), "disagreements": agrees(result),
                                "recorded_with": "python -m blobedu.servers.realcheck record"}, indent=2) + "\n")
    return result


def load(path: Path = TRANSCRIPT) -> dict[str, Any]:
    """The recorded check."""
    import json

    return json.loads(path.read_text())


def show(recorded: Optional[dict[str, Any]] = None) -> str:
    """The recorded check as a few lines: the replies, where the message was, and the verdict."""
    recorded = recorded or load()
    c = recorded["check"]
    lines = [f"real {c['version']}, receiving for receiver.test into a Maildir on its own disk:",
             f"  final dot      -> {c['data_reply']}",
             f"  after the 250  -> on disk: {', '.join(c['on_disk_after_250']) or 'nothing'}",
             f"  delivered      -> {', '.join(c['maildir']) or 'nothing'}",
             f"  full disk      -> MAIL FROM answered {c['full_disk_mail_reply']}",
             "  the postfix-local model " + ("agrees" if not recorded["disagreements"]
                                           else "DISAGREES: " + "; ".join(recorded["disagreements"]))]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - run by hand, as root
    import json
    import sys

    if sys.argv[1:] == ["record"]:
        record()
        print(show())
    else:
        r = check()
        print(json.dumps(r.to_dict(), indent=2))
        print("agrees with the model" if not agrees(r) else "DISAGREES: " + "; ".join(agrees(r)))
