"""Volunteer time bank (志愿服务银行): shifts by card, resident-confirmed services, an hours ledger.

Pure core, no Kivy. Every event is an immutable journal record synced to the hub:

* ``volunteer_check_in`` / ``volunteer_check_out``: a shift. Check-out computes hours with the
  station's :class:`HourRules`; a shift still open at the cut-off is auto-closed with default hours
  and ``needs_review`` (credited only after a review at the hub).
* ``volunteer_service`` → ``service_confirmation`` (+ ``service_follow_up`` for 不满意/非常不满意):
  a service done for a resident earns hours only once the resident confirmed it with their card.
* ``ledger_movement``: append-only, double-entry hour movements (earn, spend, transfer, adjust).
  An account's balance is the sum of its credits minus its debits; every movement has a stable
  ``movement_id``, so replaying the same movements never changes a balance. Honour hours
  (``bank:honour``) are granted only by the hub, never here.
* ``volunteer_registered`` / ``card_rebound``: staff registers a volunteer or replaces a lost card;
  the volunteer id (and so the history) stays the same.

The hub is the source of truth for balances across stations: its ``roster`` document carries a
``balance`` object per volunteer (see ``hub/timebank.py``); the kiosk shows that balance plus the
local movements the hub had not yet counted.

Clock changes: a check-in stores the wall time and the monotonic clock with the boot id; a check-out
on the same boot measures the shift with the monotonic clock (a wall clock set back or forward
changes nothing), otherwise with wall times. Negative or absurd durations are refused.

Modules: ``kinds`` (record kinds and ledger arithmetic: the contract the hub reads), ``errors``,
``rules`` (hour rules), ``catalog`` (teams, services, the effective roster), ``results``, and the
service ``service.TimeBank`` composed of ``shifts``, ``confirmations``, ``accounts`` and
``registration``.
"""
