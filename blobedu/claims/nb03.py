"""notebooks/03_tempfail_flow.ipynb's numbers."""

import json

from ..realmta import TRANSCRIPTS
from ..schedules import DAY, MINUTE, attempt_times, sender_schedule
from . import Input, Model, Source
from .helpers import delivered_at, dur, hours, spaced, tol


def _postfix_steady_gap() -> float:
    times = attempt_times(sender_schedule("postfix"), 5 * DAY, attempt_cost=1.0)
    return times[-1] - times[-2]


def _sessions(*faults: str) -> int:
    from ..delivery import deliver

    return sum(1 for s in deliver(list(faults)).sessions if s.reply.startswith("451"))


CLAIMS = [
    Model("4d06h", lambda: dur(tol("exim").last_try_at)),
    Input("6-hour 2 days", "refused@0-6h (delivered at the 1d04h try) and an outage that ends at 2 d (bounced at 3 d)"),
    Model("1 d and 3 d", lambda: " and ".join(f"{i / DAY:g} d" for i in sender_schedule("stalwart").intervals[-2:])),
    Model("3 d", lambda: f"{sender_schedule('stalwart').expire / DAY:g} d"),
    Model("4d04h", lambda: dur(tol("stalwart").last_try_at + sender_schedule("stalwart").intervals[-1])),
    Model("4000 s", lambda: f"{sender_schedule('postfix').params['max_backoff']:g} s"),
    Model("~70 minutes", lambda: f"~{_postfix_steady_gap() / MINUTE:.0f} minutes"),
    Model("1 day", lambda: spaced(sender_schedule("stalwart").notify[0])),
    Input("One hour of 503s", "deliver(['503@0-1h'])"),
    Model("Five 451s", lambda: {5: "Five"}.get(_sessions("503@0-1h"), str(_sessions("503@0-1h"))) + " 451s"),
    Source("30-minute 15-minute", "Debian's QUEUEINTERVAL='30m' (/etc/init.d/exim4:38); Exim's F,2h,15m (configure.default)"),
    Model("28 s", lambda: f"{json.loads((TRANSCRIPTS / 'postfix_long.json').read_text())['plug']:g} s"),
]



def _stalwart_try_before_last() -> float:
    return attempt_times(sender_schedule("stalwart"), 5 * DAY, attempt_cost=1.0)[-2]


# the predict-then-see answer (a 6-hour outage) and the outage slider (blobedu.experiments.FATE_OUTAGES)
CLAIMS += [
    Input("6 hours", "the predict cell's outage: refused@0-6h"),
    Model("22 h", lambda: hours(delivered_at("refused@0-6h") - 6 * 3600)),
    Model("4h02m", lambda: dur(_stalwart_try_before_last())),
    Model("7h05m", lambda: dur(delivered_at("refused@0-6h", sender="postfix"))),
    Model("6h", lambda: dur(delivered_at("refused@0-6h", sender="exim"))),
    Input("2d 2-day", "the outage slider's 2d position: refused@0-2d (blobedu.experiments.FATE_OUTAGES)"),
]
