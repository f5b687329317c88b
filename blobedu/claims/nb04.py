"""notebooks/04_no_wal.ipynb's numbers."""

from . import Model
from .helpers import delivered_at, dur, hours, tol

CLAIMS = [
    Model("1h02m", lambda: dur(delivered_at("refused@0-1h"))),
    Model("28 h", lambda: hours(tol("stalwart").longest_outage_delivered)),
]
