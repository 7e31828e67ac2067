"""The translation marker for driver messages.

Drivers carry plain-language messages as English message ids marked with :func:`N_`; the core's
catalogs (``kiosk/locale``) translate them. Drivers never translate themselves.
"""
from __future__ import annotations


def N_(msgid: str) -> str:
    """Mark a message id for extraction without translating it now."""
    return msgid
