"""notebooks/00_start_here.ipynb's numbers."""

from ..schedules import DAY, attempt_times, sender_schedule
from . import Input, Model
from .helpers import delivered_at, dur, hours, put_elapsed, sleeps, tol


def _stalwart_try_before_last() -> float:
    """A 0.16 Stalwart sender's last try inside a 6-hour outage (the one before its 1d04h try)."""
    return attempt_times(sender_schedule("stalwart"), 5 * DAY, attempt_cost=1.0)[-2]


CLAIMS = [
    Model("1, 2, 4 s", lambda: ", ".join(f"{s:g}" for s in sleeps()) + " s"),
    Model("maxRetries 3", lambda: f"maxRetries {len(sleeps())}"),
    Model("1 s retry", lambda: f"{put_elapsed('refused@0'):g} s retry", note="the hidden transport retry"),
    Model("4d06h", lambda: dur(tol("exim").last_try_at)),
    # the predict-then-see answer (a 6-hour outage, a 0.16 Stalwart sender) and the outage slider
    Input("6-hour 6 hours 6h 2d", "the predict cell's outage refused@0-6h; the slider's 6h and 2d positions"),
    Model("22 h", lambda: hours(delivered_at("refused@0-6h") - 6 * 3600)),
    Model("4h02m", lambda: dur(_stalwart_try_before_last())),
]
