"""Yizhan kiosk core: settings, identity, health rules, the volunteer time bank, the journal.

Never imports Kivy; imports only ``drivers`` below it (``tests/test_layers.py`` checks).
"""

__version__ = "0.1.0"
