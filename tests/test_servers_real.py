"""The postfix-local design against the real Postfix (Debian's), as the receiving server: mta suite, as root.

Also, without root: the recorded check that notebook 08 shows still says the model agrees.
"""

import pytest

from blobedu.servers import realcheck
from blobedu.servers.postfix_local import REPLY_DISK_FULL


def test_the_recorded_check_agrees_with_the_model():
    recorded = realcheck.load()
    assert recorded["disagreements"] == []
    assert realcheck.REPLY_OK_FORM.fullmatch(recorded["check"]["data_reply"])
    assert recorded["check"]["full_disk_mail_reply"] == REPLY_DISK_FULL
    assert "agrees" in realcheck.show(recorded)


@pytest.mark.mta
def test_real_postfix_queues_to_local_disk_before_its_250_and_refuses_a_full_disk():
    why = realcheck.unavailable()
    if why:
        pytest.skip(why)
    result = realcheck.check()
    assert realcheck.agrees(result) == [], result.to_dict()
    assert result.maildir_has_body
