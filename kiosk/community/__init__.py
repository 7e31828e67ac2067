"""The two-way station's core: residents ask (service requests), volunteers carry out.

* :mod:`kiosk.community.kinds` — the record kinds (immutable journal records, synced to the hub),
  the request catalog (picture tiles, stock phrases, cancel reasons) and request states;
* :mod:`kiosk.community.errors` — typed errors with the sentence a person reads;
* :mod:`kiosk.community.requests` — :class:`Requests`: ask, list, claim, mark done, confirm, cancel.
"""
