"""notebooks/glossary.md's numbers (the rest, Stalwart's replies and defaults, are in ``common``)."""

from . import Model, Source
from .helpers import expiry

CLAIMS = [
    Source("120 s", "crates/smtp/src/queue/spool.rs:415-426@v0.16.18: BlobLink::Temporary { until: now + 120 }"),
    Source("4", "RFC 5321 §4.2.1: a reply whose first digit is 4 is a transient negative completion"),
    Model("3-day", lambda: f"{expiry('stalwart') / 86400:.0f}-day", note="a 0.16 Stalwart sender's ttl"),
]
