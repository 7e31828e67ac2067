"""微心愿 (small wishes) and 我有建议 (suggestions) at the kiosk: a picture category and a stock phrase,
no typing. The hub's wish board publishes a wish (masked), a donor, volunteer or work unit claims it,
staff mark it fulfilled with a note; the resident sees the outcome at the next tap through the hub's
``requests`` document (its ``wishes`` list).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from kiosk.community.errors import NothingChosen, NotIdentified
from kiosk.community.kinds import event_id
from kiosk.i18n import N_
from kiosk.journal import Journal
from kiosk.records import record_kind
from kiosk.session import Person

log = logging.getLogger(__name__)

WISH, SUGGESTION = "wish", "suggestion"
POSTED, PUBLISHED, CLAIMED, FULFILLED, CLOSED = "posted", "published", "claimed", "fulfilled", "closed"
WISH_STATES = (POSTED, PUBLISHED, CLAIMED, FULFILLED, CLOSED)
WISH_STATE_WORDS = {
    POSTED: N_("Received, being reviewed"),
    PUBLISHED: N_("On the wish board"),
    CLAIMED: N_("Claimed by {who}"),
    FULFILLED: N_("Fulfilled: {note}"),
    CLOSED: N_("Answered: {note}"),
}
#: kind -> category -> (title message id, icon, stock phrases {id: message id})
CATEGORIES: dict[str, dict[str, tuple[str, str, dict[str, str]]]] = {
    WISH: {
        "class": (N_("A class"), "records", {"phone": N_("Learn to use a smartphone"),
                                           "calligraphy": N_("Learn calligraphy")}),
        "activity": (N_("An activity"), "volunteer", {"outing": N_("An outing with neighbours"),
                                                      "birthday": N_("A birthday party")}),
        "daily": (N_("A daily difficulty"), "home", {"repair": N_("Small repairs at home"),
                                                     "walker": N_("A walking aid")}),
        "child": (N_("A child's wish"), "heart", {"books": N_("Books for a child"),
                                                  "tutor": N_("Homework help for a child")}),
    },
    SUGGESTION: {
        "environment": (N_("Environment"), "home", {"clean": N_("Cleaner public spaces"),
                                                    "lights": N_("More lights at night")}),
        "service": (N_("Station services"), "help", {"hours": N_("Longer opening hours"),
                                                     "more_tests": N_("More health checks")}),
        "activity": (N_("Activities"), "volunteer", {"more": N_("More activities for elders"),
                                                     "weekend": N_("Activities at weekends")}),
        "canteen": (N_("Canteen"), "bag", {"softer": N_("Softer food"), "less_salt": N_("Less salt")}),
    },
}


@record_kind("wish_posted")
@dataclass(frozen=True)
class WishPosted:
    """A resident posted a wish or a suggestion (category and stock phrase ids; masked name only)."""

    wish_id: str
    kind: str
    person_key: str
    display_name: str
    category: str
    phrase: str


@dataclass(frozen=True)
class WishView:
    """A wish or suggestion as the kiosk shows it now."""

    wish_id: str
    kind: str
    category: str
    phrase: str
    state: str
    claimed_by: str
    note: str
    posted_at: str


class Wishes:
    """Wishes and suggestions of one station.

    Args:
        journal: the station's journal.
        hub_entries: returns the hub document's ``wishes`` list (id -> entry).
        clock: aware wall time (default UTC now).
    """

    def __init__(self, journal: Journal, hub_entries, clock=None) -> None:
        self.journal = journal
        self._hub = hub_entries
        self._clock = clock or (lambda: datetime.now(timezone.utc))

    def post(self, person: Person | None, session_id: str, kind: str, category: str, phrase: str) -> WishView:
        """Journal a wish or suggestion; posting the same again in the same visit changes nothing.

        Raises:
            NotIdentified, NothingChosen (no category or phrase, or one not in the catalog).
        """
        if person is None or not person.person_key:
            raise NotIdentified("a wish needs an identified person")
        cat = CATEGORIES.get(kind, {}).get(category)
        if cat is None or phrase not in cat[2]:
            raise NothingChosen(f"{kind}: category {category!r} / phrase {phrase!r} not chosen")
        wish_id = event_id("wish", self.journal.station_id, f"{session_id}:{kind}:{category}:{phrase}")
        self.journal.append(WishPosted(wish_id, kind, person.person_key, person.display_name, category, phrase),
                            record_id=wish_id, created_at=self._clock())
        return self.mine(person, wish_id)[0]

    def mine(self, person: Person, only: str = "") -> list[WishView]:
        """The person's wishes and suggestions, newest first, with the hub's state where it has one."""
        hub = self._hub()
        where = {"person_key": person.person_key} if not only else {"wish_id": only}
        out = []
        seen = set()
        for r in self.journal.records("wish_posted", where=where, newest_first=True, limit=30):
            p: WishPosted = r.payload
            seen.add(p.wish_id)
            out.append(_with_hub(WishView(p.wish_id, p.kind, p.category, p.phrase, POSTED, "", "",
                                          r.created_at.isoformat()), hub.get(p.wish_id)))
        if not only:
            out += [_with_hub(WishView(i, str(e.get("kind", WISH)), str(e.get("category", "")),
                                       str(e.get("phrase", "")), POSTED, "", "", str(e.get("posted_at", ""))), e)
                    for i, e in hub.items() if e.get("person_key") == person.person_key and i not in seen]
        return sorted(out, key=lambda w: w.posted_at, reverse=True)


def _with_hub(view: WishView, entry: dict[str, Any] | None) -> WishView:
    if not entry or entry.get("state") not in WISH_STATES:
        return view
    return replace(view, state=entry["state"], claimed_by=str(entry.get("claimed_by") or "")[:40],
                   note=str(entry.get("note") or "")[:80])


def describe(view: WishView) -> tuple[str, str]:
    """(category message id, phrase message id) of a wish, for display."""
    cat = CATEGORIES.get(view.kind, {}).get(view.category)
    if cat is None:
        return view.category, view.phrase
    return cat[0], cat[2].get(view.phrase, view.phrase)
