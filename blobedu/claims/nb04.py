"""notebooks/04_no_wal.ipynb's numbers."""

from functools import lru_cache

from . import Input, Model, Source
from .helpers import delivered_at, dur, hours, tol


@lru_cache(maxsize=None)
def _spool(*faults: str):
    """One message through the write-ahead spool (the receiver blobedu builds as a contrast)."""
    from ..delivery import DeliveryConfig, deliver

    return deliver(list(faults), DeliveryConfig(receiver="wal"))


def _lost_at() -> str:
    from ..widgets import design_verdict

    line = design_verdict(_spool("refused@0-1h", "disk-loss@30m"), "")
    return line.split("LOST at ")[1].split(" ")[0]


CLAIMS = [
    Model("1h02m", lambda: dur(delivered_at("refused@0-1h"))),
    Model("28 h", lambda: hours(tol("stalwart").longest_outage_delivered)),
    # the predict-then-see cell and the disk-loss slider (blobedu.experiments.DISK_LOSS_AT)
    Model("30m", _lost_at, note="the spooled message is LOST at the disk loss, refused@0-1h + disk-loss@30m"),
    # what a WAL buys (blobedu.experiments.wal_wins)
    Input("6-hour 2-day", "wal_wins(('6h', '2d')): refused@0-6h and refused@0-2d through both designs"),
    Model("6h", lambda: dur(_spool("refused@0-6h").delivered_at)),
    Source("451s", "crates/smtp/src/inbound/data.rs:829@v0.16.18: 451 4.3.5 Unable to accept message at this time."),
]
