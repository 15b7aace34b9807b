"""The table-change buffer a commit waits on, without a broker: only its count is under test."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from streams.kafka.eos.transactions import SendingBuffer


class _Channel:
    """Stands in for a changelog topic whose send is held until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def publish_message(self, fut: Any, wait: bool = False) -> None:
        await self.release.wait()


async def test_a_table_change_counts_as_buffered_until_its_send_has_returned() -> None:
    buffer = SendingBuffer()
    buffer.app = cast(Any, SimpleNamespace(conf=SimpleNamespace(producer_threaded=False)))
    channel = _Channel()
    change = cast(Any, SimpleNamespace(message=SimpleNamespace(channel=channel)))
    buffer.put(change)
    assert buffer.size == 1
    sending = asyncio.create_task(buffer._send_pending(await buffer.pending.get()))
    await asyncio.sleep(0)
    assert buffer.size == 1, "a change that left the queue but not yet its send is buffered"
    channel.release.set()
    await sending
    assert buffer.size == 0
