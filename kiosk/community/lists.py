"""The order and the pages of the kiosk's lists (我的请求, 我的任务): what needs the person comes first.

A resident's list puts a done request waiting for their confirmation on top, then what is still
open (newest first), then wishes and suggestions being handled, and the closed ones (confirmed,
cancelled, fulfilled, answered) last. A volunteer's list puts their own tasks first, then the open
requests of this station, then those of other stations. Lists are shown a page at a time.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar, Union
from collections.abc import Sequence

from kiosk.community.kinds import ASSIGNED, CANCELLED, CONFIRMED, DONE, REQUESTED
from kiosk.community.requests import RequestView
from kiosk.community.wishes import CLOSED, FULFILLED, WishView

T = TypeVar("T")
Item = Union[RequestView, WishView]  # noqa: UP007 (a runtime alias)

#: Cards on one page of a kiosk list.
PAGE_SIZE = 3


def _resident_rank(item: Item) -> int:
    if isinstance(item, RequestView):
        return {DONE: 0, REQUESTED: 1, ASSIGNED: 1, CONFIRMED: 3, CANCELLED: 3}.get(item.state, 2)
    return 3 if item.state in (FULFILLED, CLOSED) else 2


def _at(item: Item) -> str:
    return item.requested_at if isinstance(item, RequestView) else item.posted_at


def resident_order(requests: Sequence[RequestView], wishes: Sequence[WishView] = ()) -> list[Item]:
    """The resident's requests and wishes, what waits for them first; newest first within a group."""
    items: list[Item] = [*requests, *wishes]
    items.sort(key=_at, reverse=True)
    return sorted(items, key=_resident_rank)            # stable: newest first within each rank


def volunteer_order(mine: Sequence[RequestView], free: Sequence[RequestView], station: str) -> list[RequestView]:
    """The volunteer's own tasks first, then open requests of ``station``, then other stations' (each
    group keeps the order it came in: priority first, then oldest)."""
    return [*mine, *[r for r in free if r.station == station], *[r for r in free if r.station != station]]


def waiting_for(requests: Sequence[RequestView]) -> list[RequestView]:
    """The person's requests that are done and wait for their confirmation, newest first."""
    return [r for r in requests if r.state == DONE]


@dataclass(frozen=True)
class Page:
    """One page of a list: its items, its number (from 1) and the number of pages."""

    items: tuple
    number: int
    count: int

    @property
    def has_prev(self) -> bool:
        """There is a page before this one."""
        return self.number > 1

    @property
    def has_next(self) -> bool:
        """There is a page after this one."""
        return self.number < self.count


def page_of(items: Sequence[T], number: int, size: int = PAGE_SIZE) -> Page:
    """Page ``number`` (from 1, clamped to the pages there are) of ``items``."""
    count = max(1, -(-len(items) // size))
    number = min(max(1, number), count)
    return Page(tuple(items[(number - 1) * size:number * size]), number, count)
