"""A worker killed after sending a delivery and replaced at once: the delivery is sent again, with
the same ``X-Dashboard-Delivery`` (receivers drop duplicates on it), and ends succeeded.

These run the product's real processes (``manage.py rqworker``, ``manage.py runscheduler``).
"""

from __future__ import annotations

import pytest

from notifications import services
from notifications.models import Delivery
from tests.support.processes import kill_with_work_horse, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
FAST = {"JOB_HEARTBEAT_SECONDS": "1", "JOB_LOST_AFTER": "4", "NOTIFY_TIMEOUT": "30"}


def test_a_worker_killed_mid_delivery_is_replaced_and_the_delivery_is_sent_twice_with_one_id(
    make_channel, receiver, manager, processes
):
    receiver.answers = ["hang"]  # the first worker has sent, and waits for the answer when killed
    delivery = services.send_test(make_channel(), actor=manager)
    first = processes.worker("default", **FAST)
    try:
        wait_for(lambda: receiver.received, 60, f"the first worker's POST\\n{processes.log()}")
    finally:
        kill_with_work_horse(first)
    assert Delivery.objects.get(pk=delivery.pk).state == "pending"

    processes.scheduler(**FAST)
    processes.worker("default", **FAST)
    wait_for(
        lambda: Delivery.objects.get(pk=delivery.pk).state != "pending",
        60,
        f"the delivery to be sent again\\n{processes.log()}",
    )

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.response_code) == ("succeeded", 2, 200)
    ids = [request.headers["X-Dashboard-Delivery"] for request in receiver.received]
    assert ids == [str(delivery.pk), str(delivery.pk)]
