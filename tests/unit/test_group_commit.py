"""Group commit: items that arrive together are written together, in order, each caller getting
its own result or exception, and nobody waits forever."""

from __future__ import annotations

import asyncio

import pytest

from bot.group_commit import GroupCommit

pytestmark = pytest.mark.unit


class Writer:
    """Writes groups after a short pause; odd numbers are refused one by one."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.down = False

    async def write(self, items: list[int]) -> list[int | Exception]:
        self.groups.append(items)
        await asyncio.sleep(0.01)
        if self.down:
            raise ConnectionError("database down")
        return [ValueError(f"{i} refused") if i % 2 else i * 10 for i in items]


def _group(writer: Writer) -> GroupCommit[int, int]:
    return GroupCommit(writer.write, lambda: RuntimeError("stopped"))


async def test_items_arriving_together_share_a_write_and_keep_their_order() -> None:
    """100 items at once: a few writes, in order; each caller gets its own result or error."""
    writer = Writer()
    group = _group(writer)
    outcomes = await asyncio.gather(*(group.submit(i) for i in range(100)), return_exceptions=True)
    assert len(writer.groups) <= 3
    assert list(range(100)) == [i for g in writer.groups for i in g]
    assert [i * 10 for i in range(0, 100, 2)] == outcomes[::2]
    assert all(isinstance(o, ValueError) for o in outcomes[1::2])


async def test_a_failed_write_fails_its_whole_group_and_the_next_one_is_tried() -> None:
    """The writer raising: every item of that group raises it; later items are written."""
    writer = Writer()
    group = _group(writer)
    writer.down = True
    with pytest.raises(ConnectionError):
        await group.submit(2)
    writer.down = False
    assert 40 == await group.submit(4)


async def test_a_cancelled_caller_does_not_stop_the_write() -> None:
    """A caller that gives up: its item is still written, the others get their results."""
    writer = Writer()
    group = _group(writer)
    first = asyncio.ensure_future(group.submit(2))
    second = asyncio.ensure_future(group.submit(4))
    await asyncio.sleep(0)
    first.cancel()
    assert 40 == await second
    assert [[2, 4]] == writer.groups
