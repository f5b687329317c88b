"""notebooks/09_atlas.ipynb's numbers."""

from . import Model
from .helpers import first_reply_after, hours, tol

CLAIMS = [
    Model("28 h", lambda: hours(tol("stalwart").longest_outage_delivered)),
    Model("18-hour", lambda: f"{first_reply_after('503@0-1m', version='0.10.5') // 3600:.0f}-hour"),
]
