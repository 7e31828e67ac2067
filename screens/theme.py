"""The one palette and the size scale every screen uses.

Colours are chosen so that text reaches at least 7:1 contrast (WCAG AAA) on the background it sits
on; the elder-friendly audit (tests/screens/test_audit.py) checks every screen against these rules.
Colour is never the only cue: tiles and results also carry an icon and words.
"""
from __future__ import annotations


def rgb(hex_colour: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    """'#RRGGBB' as a Kivy RGBA tuple."""
    h = hex_colour.lstrip("#")
    return (int(h[0:2], 16) / 255, int(h[2:4], 16) / 255, int(h[4:6], 16) / 255, alpha)


# Surfaces
PAGE = rgb("#F6F2EA")          # warm paper: the page background
CARD = rgb("#FFFFFF")          # panels on the page
HEADER = rgb("#7A1F1F")        # deep station red: header bar
OVERLAY = rgb("#101418", 0.82)  # dims the screen behind the idle countdown

# Text
INK = rgb("#1B1B1B")           # body text on PAGE/CARD (17:1)
INK_SOFT = rgb("#3A3A3A")      # secondary text on PAGE/CARD (10:1)
ON_DARK = rgb("#FFFFFF")       # text on every dark fill below

# Fills (white text on each is at least 7:1)
HEALTH = rgb("#00564A")        # teal
VOLUNTEER = rgb("#8A3A00")     # burnt orange
RECORDS = rgb("#1F3A8A")       # navy
HELP = rgb("#5A2A82")          # purple
ACCENT = rgb("#7A1F1F")        # primary action, same red as the header
NEUTRAL = rgb("#3C4650")       # secondary action (slate, not Kivy grey)
OK = rgb("#1E5E20")            # success / normal result
WARN = rgb("#7A4A00")          # elevated result (amber-brown keeps 7:1 with white)
DANGER = rgb("#9B1111")        # high / urgent result
ONLINE = rgb("#1E5E20")
OFFLINE = rgb("#474747")
BLACK_RED = rgb("#4A0A0A")      # the worst rating: darker than DANGER, so the five faces' colours differ
DEMO = rgb("#3D3D6B")           # demo-mode sample-card buttons (indigo grey: not a real action colour)

# Sizes: dp for layout, sp for text. Elder-friendly minimums are 64 dp targets, 24 sp body,
# 64 sp key figures.
TOUCH_MIN_DP = 64
BODY_MIN_SP = 24
FIGURE_MIN_SP = 64
CONTRAST_MIN = 7.0

TEXT_BODY_SP = 28
TEXT_SMALL_SP = 24
TEXT_TITLE_SP = 44
TEXT_HEADLINE_SP = 56
TEXT_FIGURE_SP = 96
BUTTON_HEIGHT_DP = 88
RADIUS_DP = 18
GAP_DP = 24
HEADER_HEIGHT_DP = 96


def luminance(colour) -> float:
    """WCAG relative luminance of an RGB(A) colour with components in 0..1."""
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = colour[:3]
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(fg, bg) -> float:
    """WCAG contrast ratio between two opaque colours."""
    a, b = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)
