"""Every number a reader sees in the README and the notebooks' markdown is registered or cited (issue #17.7).

blobedu/claims/ keeps one registry module per document; see its theory of operation.
"""

import pytest

from blobedu.claims import Model, Source, common_claims, documents, numbers, registry, uncovered

DOCS = documents()


@pytest.mark.parametrize("document", sorted(DOCS))
def test_every_number_in_the_prose_is_registered_or_cited(document):
    missing = uncovered(document, DOCS[document])
    assert not missing, (f"{document}: numbers with no entry in blobedu/claims/ (register the model computation "
                         f"that prints each, or cite its source): {missing}")


@pytest.mark.parametrize("document", sorted(DOCS))
def test_every_model_number_is_what_the_model_prints_today(document):
    wrong = {c.text: c.check() for c in registry(document) if isinstance(c, Model) and c.check() is not None}
    assert not wrong, f"{document}: the prose says (left) but the model now prints (right): {wrong}"


def test_every_common_model_number_is_what_the_model_prints_today():
    wrong = {c.text: c.check() for c in common_claims() if isinstance(c, Model) and c.check() is not None}
    assert not wrong, f"common: the prose says (left) but the model now prints (right): {wrong}"


@pytest.mark.parametrize("document", sorted(DOCS))
def test_no_stale_entries(document):
    """A document's own entry whose number is gone from it is dead weight that hides the next mistake."""
    present = set(numbers(DOCS[document]))
    stale = [c.text for c in registry(document) if not set(c.tokens()) & present]
    assert not stale, f"{document}: entries whose numbers the document no longer prints: {stale}"


def test_every_source_entry_cites_something():
    for c in [*common_claims()] + [c for d in DOCS for c in registry(d)]:
        if isinstance(c, Source):
            assert len(c.where) > 5, c


# -- the extractor itself: it must find claims and skip identifiers, or the tests above prove nothing --------

@pytest.mark.parametrize("text, expected", [
    ("a 0.16 Stalwart sender delivers outages up to about 28 h, and bounces at 3 days", ["28 h", "3 days"]),
    ("its last try is at 1d04h; `maxRetries=10` sleeps 5m19s", ["1d04h", "5m19s"]),
    ("Stalwart answers `451 4.3.5 Unable to accept message at this time.` then", ["451", "4.3.5"]),
    ("`Status: 5.0.0` and no Diagnostic-Code", ["5.0.0"]),
    ("10,000 messages take 0.25 s; 766 MiB", ["10,000 messages", "0.25 s", "766 MiB"]),
    ("(`crates/smtp/src/inbound/data.rs:829`@v0.16.18) and RFC 5321 §4.2.5", []),
    ("on v0.8.2-v0.15.x, Postfix 3.7.11 and Exim 4.96, notebooks 03 and 05", []),
    ("run `blobedu deliver --fault refused@0-29h` on 127.0.0.1", []),
    ("```\nblobedu put --fault 503@0-5\n```\nthen 7 s", ["7 s"]),
    ("see [03](notebooks/03_tempfail_flow.ipynb) and issue #11", []),
])
def test_numbers_finds_claims_and_skips_identifiers(text, expected):
    assert numbers(text) == expected


def test_a_wrong_model_number_is_caught():
    wrong = Model("3 days", lambda: "28 h")
    assert wrong.check() == "28 h"
    assert uncovered("README.md", "mail is safe for 99 days") == ["99 days"]
