"""Numbers many documents repeat: Stalwart's replies, its store defaults, the senders' schedules."""

from ..schedules import sender_schedule
from ..versions import behaviour
from . import Model, Source
from .helpers import dur, expiry, hours, put_elapsed, sleeps, spaced, tol

CLAIMS = [
    # the replies (crates/smtp/src/inbound/data.rs@v0.16.18)
    Source("451 4.3.5", "crates/smtp/src/inbound/data.rs:829@v0.16.18: 451 4.3.5 Unable to accept message at this time."),
    Source("250", "crates/smtp/src/inbound/data.rs:825@v0.16.18: 250 2.0.0 Message queued with id {queue_id:x}."),
    Source("452 4.3.1", "crates/smtp/src/queue/quota.rs@v0.16.18: 452 4.3.1 Mail system full, try again later."),
    Source("5.4.7", "RFC 3463 §3.5: X.4.7 delivery time expired (the RFC 5321 minimum sender's bounce)"),
    Source("5.0.0", "crates/smtp/src/queue/dsn.rs:586-595@v0.16.18 (no reply, made permanent); Exim deliver.c:7863"),
    Source("4.0.0", "crates/smtp/src/queue/dsn.rs:586-595@v0.16.18 (delay warning after no reply); Exim deliver.c:8386"),
    # HTTP statuses the store loop tells apart (crates/store/src/backend/s3/mod.rs:94-233@v0.16.18)
    Source("500 599", "mod.rs@v0.16.18: `500..=599 if retries_left > 0` is the only retried arm"),
    Source("503 429 403 400 408", "HTTP status codes (RFC 9110 §15) that blobedu's fault kinds name; none but 5xx is retried"),
    Source("404 200", "HTTP 404 Not Found / 200 OK (RFC 9110 §15); a 404 is get_blob's None (mod.rs@v0.16.18:94-135)"),
    # the store loop's defaults on the latest release (versions.py, facts §1)
    Model("1 s 2 s 4 s", lambda: " ".join(f"{s:g} s" for s in sleeps())),
    Model("7 s", lambda: f"{put_elapsed('503@0'):g} s", note="a 503 storm: 4 requests, 1 + 2 + 4 s of sleep"),
    Model("30 s", lambda: f"{behaviour().default_timeout:g} s"),
    Model("61 s", lambda: f"{put_elapsed('timeout@0'):g} s", note="a silent S3 on 0.16: 30 + 1 + 30 s"),
    Model("64 s", lambda: f"{sleeps(max_retries=7)[-1]:g} s", note="the backoff cap, 1 << 6"),
    # the senders (schedules.py, facts §3)
    Model("5 minutes", lambda: spaced(sender_schedule("stalwart").final_dot_wait)),
    Model("10 minutes", lambda: spaced(sender_schedule("postfix").final_dot_wait)),
    Model("3 days", lambda: spaced(expiry("stalwart"))),
    Model("5 days", lambda: spaced(expiry("postfix"))),
    Model("4 days", lambda: spaced(expiry("exim"))),
    Model("28 h", lambda: hours(tol("stalwart").longest_outage_delivered)),
    Model("1d04h", lambda: dur(tol("stalwart").last_try_at)),
    Model("30 minutes", lambda: spaced(sender_schedule("exim").params["queue_interval"])),
]
