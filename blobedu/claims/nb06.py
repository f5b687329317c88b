"""notebooks/06_beyond_incoming_mail.ipynb's numbers."""

from ..receiver import RESERVE_SECONDS
from ..schedules import DAY, sender_schedule
from . import Input, Model, Source
from .helpers import dur, purge_race, put_elapsed, tol

CLAIMS = [
    Input("t=0", "operations.version_table / operation_panel: each fault from t=0, with no end"),
    Model("1m01s", lambda: dur(put_elapsed("timeout@0")), note="a silent S3 on 0.16: every write in the table"),
    Model("120 s", lambda: f"{RESERVE_SECONDS:g} s", note="BlobLink::Temporary { until: now + 120 }, spool.rs:417@v0.16.18"),
    # the lost bounce: the sender's own S3 fails one hour before its bounce at 3 d, after the 1-day warning
    Model("hour 71", lambda: f"hour {round(tol('stalwart').bounce_at / 3600) - 1}"),
    Model("1-day", lambda: f"{sender_schedule('stalwart').notify[0] / DAY:g}-day"),
    Model("1 day", lambda: f"{sender_schedule('stalwart').notify[0] / DAY:g} day", note="the predict: warns after 1 day"),
    # the purge race (purge.race: maxRetries 10, 503 for the first 2 minutes)
    Input("maxRetries is 10 and S3 answers 503 for 2 minutes", "purge.race()'s defaults: StoreConfig(max_retries=10), 503@0-2m"),
    Model("127 s", lambda: f"{purge_race().final_put_at:g} s"),
    Model("7 s after its reservation lapsed", lambda: f"{purge_race().final_put_at - RESERVE_SECONDS:g} s after its "
          "reservation lapsed"),
    Model("3 s later", lambda: f"{purge_race().delete_at - purge_race().final_put_at:g} s later"),
    Input("maxRetries 10 and 7, 2 s", "race(purge_scan=125, delete_at=142, StoreConfig(max_retries=n, latency=2))"),
    Source("04:00", "blobCleanupSchedule, daily at 04:00 by default (registry structs_impl.rs:6592-6595@v0.16.18)"),
]
