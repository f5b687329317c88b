"""The sending MTA: a queue, real SMTP attempts over loopback, a retry schedule, a final-dot wait, DSNs.

The sender holds the message in its queue from the moment it is submitted until a receiver
answers 250 (then it lets go) or the schedule gives up (then it bounces to the author with a DSN,
RFC 3464).  Every attempt is a real SMTP session with aiosmtplib.  The reply to the final dot is
awaited at most ``final_dot_wait`` seconds, the sender's own (:attr:`Schedule.final_dot_wait`):
a Stalwart sender waits 5 minutes (its RCPT timeout is still in force, outbound/session.rs:164 and
client.rs:137-148@v0.16.18; its 10-minute ``dataTimeout`` bounds only sending the body), Postfix
``smtp_data_done_timeout`` and Exim ``final_timeout`` 10 minutes.  RFC 5321 §4.5.3.2.6's
10 minutes is a minimum.  Past that wait the attempt counts as failed and the sender hangs up,
whatever the receiver does next: the receiver may still accept, and the retry makes a duplicate.

A reply of class 5 to the final dot is permanent: every sender modelled here bounces at once, without
another attempt.  Stalwart: ``Severity::PermanentNegativeCompletion`` → ``Status::PermanentFailure``
(crates/smtp/src/outbound/mod.rs:61-68@v0.16.18); Postfix: a non-2xx DATA reply goes to
``smtp_mesg_fail`` (src/smtp/smtp_proto.c:2379-2384@v3.11.6), which defers only when the status
starts with 4 and otherwise calls ``bounce_append`` (smtp_trouble.c:229,292; ``soft_bounce`` off by
default); Exim: ``check_response`` keeps the reply's first digit (transports/smtp.c:568-574@exim-4.96)
and ``code == '5'`` sets ``FAIL`` (smtp.c:4508-4509); RFC 5321 §4.2.1 (5yz: "Permanent Negative").

A Stalwart sender queues its own DSNs through its own blob store and ignores the result
(queue/dsn.rs@v0.16.18:34-68): given that ``store``, every DSN goes through
:func:`blobedu.bounces.queue_dsn`, and one written while that store is down is dropped.
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any, Optional

import aiosmtplib

from .schedules import Schedule
from .trace import Custody, SessionRecord

COMMAND_TIMEOUT = 300.0  # RFC 5321 §4.5.3.2 (MAIL, RCPT: 5 minutes)
MAIL_FROM = "author@sender.test"
RCPT_TO = "reader@receiver.test"
SENDER_HOST = "mta.sender.test"


def sample_message(subject: str = "Quarterly report") -> bytes:
    """A small RFC 5322 message, the same bytes every time (so its BLAKE3 key is stable)."""
    msg = EmailMessage()
    msg["From"] = MAIL_FROM
    msg["To"] = RCPT_TO
    msg["Subject"] = subject
    msg["Message-ID"] = "<blobedu-1@sender.test>"
    msg["Date"] = "Sat, 28 Nov 2026 12:00:00 +0000"
    msg.set_content("Where does this message live while S3 is down?\n")
    return bytes(msg)


def make_dsn(kind: str, t: float, reporter: str, status: str, diagnostic: Optional[str], origin: str = "sender") -> dict[str, Any]:
    """A delivery status notification (RFC 3464): ``kind`` is ``delayed`` or ``failed``."""
    # a fixed boundary: the DSN's bytes then depend only on the scenario (MIME picks a random one)
    report = MIMEMultipart("report", report_type="delivery-status",
                           boundary=f"blobedu-dsn-{kind}-{int(t)}")
    report["From"] = f"MAILER-DAEMON@{reporter}"
    report["To"] = MAIL_FROM
    report["Subject"] = ("Warning: message delivery delayed" if kind == "delayed"
                         else "Undelivered mail returned to sender")
    human = ("Your message has not been delivered yet; the server will keep trying.\n" if kind == "delayed"
             else "Your message could not be delivered and has been returned to you.\n")
    report.attach(MIMEText(f"{human}\n<{RCPT_TO}>: {diagnostic or 'no SMTP reply'}\n"))
    # message/delivery-status (RFC 3464 §2.1): per-message fields, then one block per recipient
    status_part = MIMEBase("message", "delivery-status")
    per_message, per_recipient = Message(), Message()
    per_message["Reporting-MTA"] = f"dns; {reporter}"
    per_recipient["Final-Recipient"] = f"rfc822; {RCPT_TO}"
    per_recipient["Action"] = "delayed" if kind == "delayed" else "failed"
    per_recipient["Status"] = status
    if diagnostic is not None:  # a Stalwart DSN after no SMTP reply has no such line (queue/dsn.rs:626-632)
        per_recipient["Diagnostic-Code"] = diagnostic
    status_part.attach(per_message)
    status_part.attach(per_recipient)
    report.attach(status_part)
    return {"t": round(t, 6), "kind": kind, "origin": origin, "to": MAIL_FROM, "status": status,
            "diagnostic": diagnostic, "text": report.as_string()}


class SendingMTA:
    """One message in a sending server's queue, retried on ``schedule`` until delivered or bounced."""

    def __init__(self, schedule: Schedule, clock, port: int, custody: Custody, events: list,
                 final_dot_wait: Optional[float] = None, host: str = "127.0.0.1", store=None) -> None:
        self.schedule = schedule
        self.clock = clock
        self.port = port
        self.host = host
        self.custody = custody
        self.events = events
        self.final_dot_wait = schedule.final_dot_wait if final_dot_wait is None else final_dot_wait
        self.sessions: list[SessionRecord] = []
        self.session_ports: list[int] = []
        self.dsns: list[dict[str, Any]] = []
        self.fate: Optional[str] = None
        self.store = store  # a Stalwart sender's own blob store, which its DSNs are queued through

    async def _send_dsn(self, dsn: dict[str, Any]) -> None:
        """Keep ``dsn``; a Stalwart sender first queues it through its own store (result ignored)."""
        if self.store is not None:
            from .bounces import queue_dsn

            await queue_dsn(dsn, self.store, self.clock, "sender")
        self.dsns.append(dsn)

    def event(self, what: str, **data: Any) -> None:
        """Record a timeline event."""
        self.events.append({"t": round(self.clock.now(), 6), "who": "sender", "what": what, **data})

    async def attempt(self, message: bytes) -> str:
        """One SMTP session; returns the reply line to the final dot, or ``timeout``/``refused``/``dropped``."""
        t = self.clock.now()
        smtp = aiosmtplib.SMTP(hostname=self.host, port=self.port, timeout=COMMAND_TIMEOUT,
                               local_hostname=SENDER_HOST, start_tls=False)
        port = 0
        try:
            await smtp.connect()
            port = smtp.transport.get_extra_info("sockname")[1]
            await smtp.ehlo()
            await smtp.mail(MAIL_FROM)
            await smtp.rcpt(RCPT_TO)
            response = await smtp.data(message, timeout=self.final_dot_wait)
            reply = f"{response.code} {response.message}"
        except aiosmtplib.SMTPTimeoutError:
            reply = "timeout"
            # the sender gives up on the session at its timeout and drops the connection, as an MTA
            # does; aiosmtplib closes it itself from 5.1.2 on, older releases left it open for quit()
            smtp.close()
        except aiosmtplib.SMTPResponseException as exc:
            reply = f"{exc.code} {exc.message}"
        except aiosmtplib.SMTPConnectError:
            reply = "refused"
        except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
            reply = "dropped"
        finally:
            if smtp.is_connected:
                try:
                    await smtp.quit(timeout=5)
                except (aiosmtplib.SMTPException, ConnectionError, asyncio.TimeoutError):
                    smtp.close()
            else:
                smtp.close()
        self.sessions.append(SessionRecord(t=t, reply=reply, ended=self.clock.now()))
        self.session_ports.append(port)
        self.event("session", reply=reply)
        return reply

    async def _wait_until(self, when: float, warnings: list[float]) -> None:
        """Sleep until ``when``, sending any delay warnings that fall due on the way."""
        while warnings and warnings[0] <= when:
            w = warnings.pop(0)
            await self.clock.sleep(w - self.clock.now())
            last = self.sessions[-1].reply if self.sessions else "no attempt"
            await self._send_dsn(make_dsn("delayed", self.clock.now(), SENDER_HOST, self.schedule.delay_status(last),
                                          self.schedule.diagnostic(last)))
            self.event("delay warning")
        await self.clock.sleep(when - self.clock.now())

    async def run(self, message: bytes) -> str:
        """Queue ``message`` now and try until it is delivered or bounced; returns the sender's fate."""
        queued = self.clock.now()
        held = self.custody.hold("sender queue", queued, f"{self.schedule.name} queue")
        warnings = self.schedule.warnings(queued)
        failures: list[float] = []
        while True:
            reply = await self.attempt(message)
            now = self.clock.now()
            if reply.startswith("2"):
                self.custody.release(held, now, "250 received")
                self.fate = "handed over"
                return self.fate
            if reply.startswith("5"):
                break
            failures.append(now)
            nxt = self.schedule.next_attempt(queued, failures)
            if nxt is None:
                end = self.schedule.expires_at(queued)
                if end is not None and end > now:
                    await self._wait_until(end, warnings)
                break
            await self._wait_until(nxt, warnings)
        now = self.clock.now()
        last = self.sessions[-1].reply
        if last.startswith("5"):
            code, diagnostic = last.split()[1], self.schedule.diagnostic(last)
        else:  # the queue gave up on a temporary failure
            code, diagnostic = self.schedule.bounce_status(last), self.schedule.diagnostic(last, expired=True)
        await self._send_dsn(make_dsn("failed", now, SENDER_HOST, code, diagnostic))
        self.custody.release(held, now, "bounced")
        self.event("bounce")
        self.fate = "bounced"
        return self.fate
