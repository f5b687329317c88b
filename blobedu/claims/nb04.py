"""notebooks/04_no_wal.ipynb's numbers."""

from functools import lru_cache

from . import Input, Model, Source
from .helpers import delivered_at, dur, hours, spaced, tol


@lru_cache(maxsize=None)
def _spool(*faults: str, fair: bool = False):
    """One message through the write-ahead spool (the receiver blobedu builds as a contrast); ``fair``: the fair WAL."""
    from ..delivery import DeliveryConfig, deliver
    from ..spool import FAIR

    return deliver(list(faults), DeliveryConfig(receiver="wal", spool=FAIR if fair else None))


def _lost_at() -> str:
    from ..widgets import design_verdict

    line = design_verdict(_spool("refused@0-1h", "disk-loss@30m"), "")
    return line.split("LOST at ")[1].split(" ")[0]


def _fair():
    from ..spool import FAIR

    return FAIR


def _postfix(name: str) -> str:
    from ..schedules import sender_schedule

    return f"{sender_schedule('postfix').params[name]:g} s"


CLAIMS = [
    Model("1h02m", lambda: dur(delivered_at("refused@0-1h"))),
    Model("28 h", lambda: hours(tol("stalwart").longest_outage_delivered)),
    # the predict-then-see cell and the disk-loss slider (blobedu.experiments.DISK_LOSS_AT)
    Model("30m", _lost_at, note="the spooled message is LOST at the disk loss, refused@0-1h + disk-loss@30m"),
    Model("1h03m", lambda: dur(_spool("refused@0-1h", "disk-loss@30m", fair=True).delivered_at),
          note="the fair WAL keeps the message through one disk loss, refused@0-1h + disk-loss@30m"),
    Model("3 nodes'", lambda: f"{_fair().replicas} nodes'"),
    Model("3 folders", lambda: f"{_fair().replicas} folders"),
    # the table of fates (blobedu.experiments.wal_fates, WAL_CASES)
    Input("6-hour 2-day", "WAL_CASES: refused@0-6h and refused@0-2d through the three designs"),
    # "about a fifth of the upload attempts" has no digits: tests/test_no_wal.py checks it
    Model("10 minutes", lambda: spaced(_fair().uploader.cap)),
    Model("300 s and 4000 s", lambda: f"{_postfix('min_backoff')} and {_postfix('max_backoff')}"),
    Source("503s", "the fault 503@0-4m of WAL_CASES: S3 answers 503 Slow Down (blobedu.faults)"),
]
