"""Facts revision 3, as notebooks 05 and 06 teach it: each test is named after the facts row it checks.

05: a sender that hangs up before the receiver's loop runs out gets no duplicate, only a later
delivery; a duplicate needs a late request that succeeds; the panel says which sender it ran.
06: the purge race's exact conditions (§5, verified), and a DELETE between a PUT and its HEAD.
"""

from __future__ import annotations

from blobedu.delivery import DeliveryConfig, deliver
from blobedu.experiments import TIMES_OUT, worst_case_table
from blobedu.purge import race
from blobedu.schedules import sender_schedule
from blobedu.store import StoreConfig
from blobedu.text import verdict
from blobedu.widgets import delivery_panel

SLOW = StoreConfig(max_retries=10, latency=29)  # notebook 05: an S3 that answers 503 only after 29 s


# -- §3: the final-dot wait; a time-out is a duplicate only when a late request succeeds ---------------------
def test_facts3_rev3_worst_case_labels_a_time_out_not_a_duplicate():
    rows = worst_case_table()
    cells = [v for row in rows for k, v in row.items() if " waits " in k]
    assert set(cells) == {"ok", TIMES_OUT}  # never "DUPLICATE": the worst case's every request fails
    worst = next(r for r in rows if r["maxRetries"] == 10 and r["timeout"] == "30s")
    assert worst["postfix waits 10m"] == TIMES_OUT and worst["stalwart waits 5m"] == TIMES_OUT
    assert next(r for r in rows if r["maxRetries"] == 3 and r["timeout"] == "30s")["postfix waits 10m"] == "ok"


def test_facts3_rev3_a_sender_time_out_after_the_loop_runs_out_is_one_copy_later():
    wait = sender_schedule("postfix").final_dot_wait
    once = deliver(["503@0-15m"], DeliveryConfig(store=SLOW, sender="postfix"))
    first = once.sessions[0]
    assert first.reply == "timeout" and first.receiver_reply.startswith("451")  # a 451 to nobody
    assert first.receiver_replied_at > wait
    assert once.fate == "delivered" and once.copies == 1 and once.delivered_at > 2 * wait


def test_facts3_rev3_a_late_request_that_succeeds_after_the_sender_hung_up_is_a_duplicate():
    twice = deliver(["503@0-9m"], DeliveryConfig(store=SLOW, sender="postfix"))
    first = twice.sessions[0]
    assert first.reply == "timeout" and first.receiver_reply.startswith("250")  # a 250 to nobody
    assert twice.copies == 2
    requests = [r["method"] for r in first.store["requests"]]
    assert requests.count("PUT") == 11 and requests.count("HEAD") == 1  # "11 PUTs plus 1 HEAD"


def test_facts3_rev3_the_delivery_panel_names_the_sender_it_ran():
    scenario = dict(max_retries=10, latency="29s", faults="503@0-9m")
    named = delivery_panel(name_sender=True, sender="postfix", **scenario)
    cell9 = deliver(["503@0-9m"], DeliveryConfig(store=SLOW, sender="postfix"))
    assert named.error is None
    assert named.verdict_text == f"sender postfix, Stalwart 0.16.18, maxRetries 10: {verdict(cell9)}"
    named.update(sender="stalwart")  # the same faults, another sender: another answer, and it says so
    assert named.verdict_text.startswith("sender stalwart, ")
    assert named.verdict_text.split(": ", 1)[1] != verdict(cell9)
    named.update(version="0.9.0")  # a version with no store retries says so, not "maxRetries 0"
    assert named.verdict_text.startswith("sender stalwart, Stalwart 0.9.0, no retries: ")
    plain = delivery_panel(**scenario)  # without the option, the verdict is unchanged (notebooks 00, 03)
    assert plain.verdict_text == verdict(deliver(["503@0-9m"], DeliveryConfig(store=SLOW)))


# -- §5: the purge race, verified (blob.rs:115-143, 146-191, 263-281; spool.rs:415-426, 555-598) ------------
def test_facts5_rev3_purge_race_needs_a_scan_after_the_reservation_and_a_delete_after_the_last_put():
    late = race(purge_scan=125, delete_at=130)  # scan after 120 s, DELETE after the PUT at 127 s
    assert late.final_put_at == 127 and late.committed and not late.readable
    assert late.local_delivery == "Blob not found."
    early = race(purge_scan=125, delete_at=125)  # DELETE before the last PUT: the PUT writes it again
    assert early.committed and early.readable
    inside = race(purge_scan=110, delete_at=130)  # scanned while the reservation still held: linked
    assert inside.delete_at is None and inside.committed and inside.readable


def test_facts5_rev3_a_delete_between_put_and_head_costs_a_reput_only_while_retries_are_left():
    # each request takes 2 s: the good PUT is sent at 141 s, its HEAD at 143 s; the DELETE lands at 142 s
    left = race(purge_scan=125, delete_at=142, config=StoreConfig(max_retries=10, latency=2))
    assert left.committed and left.readable and left.final_put_at > 143  # a re-PUT after the HEAD's 404
    last = race(purge_scan=125, delete_at=142, config=StoreConfig(max_retries=7, latency=2))
    assert last.final_put_at == 141 and not last.committed  # that PUT was the last round: 451, not a loss
    assert any("not visible" in what for _, what in last.steps)


# -- §3/§1: a DSN on a store that loses writes, on every version before verifyAfterWrite (0.16.2) ------------
def test_facts1_rev3_a_bounce_on_a_store_that_loses_writes_is_unreadable_before_0_16_2():
    for version in ("0.15.5", "0.16.1"):
        lost = deliver(["lost-write@0"], DeliveryConfig(store=StoreConfig(version=version)))
        assert lost.fate == "lost" and lost.dsns[0]["fate_kind"] == "unreadable", version
    caught = deliver(["lost-write@0-1h"], DeliveryConfig(store=StoreConfig(version="0.16.2")))
    assert caught.fate == "delivered" and all(d.get("fate_kind", "queued") == "queued" for d in caught.dsns)
