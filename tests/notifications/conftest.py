from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from notifications import services
from tests.notifications.receiver import Receiver, running_receiver
from tests.releases.conftest import environments  # noqa: F401  (releases on the local target)


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    settings.NOTIFY_TIMEOUT = 0.5
    settings.DASHBOARD_URL = "https://releases.example.com"
    with running_receiver() as receiver:
        yield receiver


@pytest.fixture
def make_channel(manager: Any, receiver: Receiver) -> Any:
    def make(name: str = "ops", **fields: Any) -> Any:
        values = {"name": name, "kind": "webhook", "url": receiver.url, "events": [], **fields}
        channel, _ = services.create_channel(values, actor=manager)
        return channel

    return make
