"""Chinese renders as glyphs, not the boxes Kivy's default font shows."""
from __future__ import annotations


def _pixels(text: str, font_name: str | None = None) -> bytes:
    from kivy.core.text import Label as CoreLabel
    kwargs = {"font_size": 48}
    if font_name:
        kwargs["font_name"] = font_name
    label = CoreLabel(text=text, **kwargs)
    label.refresh()
    return bytes(label.texture.pixels)


def test_default_font_draws_distinct_chinese_glyphs(harness):
    from app.kiosk_app import font_path

    # With the registered default font, different characters give different images, and neither
    # is the "missing glyph" box the font draws for a code point it has no glyph for.
    a, b = _pixels("驿"), _pixels("站")
    missing = _pixels("\U000F0000")     # a private-use code point: no font has a glyph for it
    assert a != b
    assert missing not in (a, b)
    assert font_path().name == "NotoSansSC-Regular.otf"   # Simplified Chinese forms, not the JP face of a .ttc
