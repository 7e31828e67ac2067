"""Yizhan kiosk core: settings, identity, health and volunteer rules, journal. Never imports Kivy
(only ``kiosk.app`` does)."""

__version__ = "0.1.0"
