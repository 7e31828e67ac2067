"""The elder-friendly audit: walks a widget tree and lists every rule it breaks.

Rules (product.md): touch targets at least 64 dp both ways, text at least 24 sp, key figures
(labels with ``role == "figure"``) at least 64 sp, text contrast at least 7:1 against the colour
actually behind it, no text cut off by its box or sticking out of its button, no text or button
outside the window or under the header (a layout pushed past its space), and every wrapped
label broken by the Chinese line-breaking rules (as drawn: no line starts with closing
punctuation or ends with opening punctuation, no phrase split).
"""
from __future__ import annotations

from kivy.metrics import dp, sp
from kivy.uix.behaviors import ButtonBehavior
from kivy.core.window import Window
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView
from kivy.uix.textinput import TextInput

from drivers.linebreak import bad_breaks
from screens import theme


def _visible(widget) -> bool:
    w = widget
    while w is not None:
        if getattr(w, "opacity", 1) <= 0.01 or getattr(w, "disabled", False) and w.opacity < 1:
            return False
        w = w.parent if w.parent is not w else None
    return widget.width > 0 and widget.height > 0


def _composite(fg, bg):
    a = fg[3] if len(fg) > 3 else 1.0
    return tuple(fg[i] * a + bg[i] * (1 - a) for i in range(3)) + (1.0,)


def _surface(widget):
    """The nearest ancestor (or self) that paints a background: text on it shares one layer."""
    w = widget
    while w is not None:
        colour = getattr(w, "bg_color", None)
        if colour is not None and len(colour) == 4 and colour[3] > 0:
            return w
        w = w.parent if w.parent is not w else None
    return None


def _ancestor(older, widget) -> bool:
    w = widget.parent
    while w is not None and w is not w.parent:
        if w is older:
            return True
        w = w.parent
    return False


def _in_scroll_view(widget) -> bool:
    w = widget.parent
    while w is not None and w is not w.parent:
        if isinstance(w, ScrollView):
            return True
        w = w.parent
    return False


def _box(widget) -> tuple[float, float, float, float]:
    x, y = widget.to_window(widget.x, widget.y)
    return x, y, x + widget.width, y + widget.height


def _overlap(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def background_of(widget):
    """The opaque colour behind ``widget``: its own or its nearest ancestors' ``bg_color``s, composited."""
    layers = []
    w = widget
    while w is not None:
        colour = getattr(w, "bg_color", None)
        if colour is not None and len(colour) == 4 and colour[3] > 0:
            layers.append(tuple(colour))
            if colour[3] >= 0.999:
                break
        w = w.parent if w.parent is not w else None
    result = theme.PAGE
    for layer in reversed(layers):
        result = _composite(layer, result)
    return result


def _needed_size(label) -> tuple[float, float]:
    """The size the label's text needs when wrapped at the label's width (unbounded height).

    Kivy crops lines that do not fit a fixed ``text_size`` height, so the label's own texture
    cannot show clipping; lay the text out again without the height bound.
    """
    from kivy.core.text import Label as CoreLabel

    width = label.text_size[0] if label.text_size[0] else None
    core = CoreLabel(text=label._label.text, font_size=label.font_size, font_name=label.font_name, bold=label.bold,
                     italic=label.italic, padding=label.padding, halign=label.halign, text_size=(width, None),
                     line_height=label.line_height)
    core.refresh()
    return core.content_width if width is None else min(core.content_width, width), core.content_height


def _name(widget) -> str:
    text = getattr(widget, "text", "")
    return f"{type(widget).__name__}({text[:30]!r})" if text else type(widget).__name__


def audit(root) -> list[str]:
    """Every elder-friendliness problem in the visible tree under ``root`` (only the topmost
    ``modal`` child when one is open: what is behind it cannot be touched)."""
    root = next((c for c in root.children if getattr(c, "modal", False)), root)
    problems: list[str] = []
    texts: list = []
    targets: list = []
    for w in root.walk(restrict=True):
        if not _visible(w):
            continue
        if isinstance(w, (ButtonBehavior, TextInput)):
            targets.append(w)
            if w.width < dp(theme.TOUCH_MIN_DP) - 0.5 or w.height < dp(theme.TOUCH_MIN_DP) - 0.5:
                problems.append(f"touch target too small: {_name(w)} is {w.width:.0f}x{w.height:.0f} px, "
                                f"needs {dp(theme.TOUCH_MIN_DP):.0f}")
        if isinstance(w, Label) and w.text.strip():
            if w.font_size < sp(theme.BODY_MIN_SP) - 0.01:
                problems.append(f"text too small: {_name(w)} at {w.font_size:.0f} px, needs {sp(theme.BODY_MIN_SP):.0f}")
            if getattr(w, "role", "") == "figure" and w.font_size < sp(theme.FIGURE_MIN_SP) - 0.01:
                problems.append(f"key figure too small: {_name(w)} at {w.font_size:.0f} px")
            ratio = theme.contrast(_composite(w.color, background_of(w)), background_of(w))
            if ratio < theme.CONTRAST_MIN:
                problems.append(f"contrast {ratio:.1f}:1 below {theme.CONTRAST_MIN}:1: {_name(w)}")
            texts.append(w)
            lines = ["".join(word.text for word in line.words) for line in getattr(w._label, "_cached_lines", [])]
            if len(lines) > 1:
                problems += [f"line breaking: {_name(w)}: {p}" for p in bad_breaks(w.text, lines)]
            laid = w._label.text.count("\n") + 1 if w._label.text else 0
            if lines and len(lines) < laid and not w.shorten:
                problems.append(f"text cut off: {_name(w)} shows {len(lines)} of its {laid} lines")
            need_w, need_h = _needed_size(w)
            if not w.shorten and (need_w > w.width + 2 or need_h > w.height + 2):
                problems.append(f"text cut off: {_name(w)} needs {need_w:.0f}x{need_h:.0f} px "
                                f"in {w.width:.0f}x{w.height:.0f}")
    # Nothing may be pushed out of the window, or under the header from the screen below it (text in a
    # scroll view may lie outside the view: it scrolls into sight).
    header = root.ids.header if "header" in getattr(root, "ids", {}) else None
    in_header = {id(x) for x in header.walk(restrict=True)} if header else set()
    for w in texts + targets:
        if _in_scroll_view(w):
            continue
        box = _box(w)
        if box[0] < -2 or box[1] < -2 or box[2] > Window.width + 2 or box[3] > Window.height + 2:
            problems.append(f"off screen: {_name(w)} at {[round(v) for v in box]} in a "
                            f"{Window.width}x{Window.height} window")
        elif header and id(w) not in in_header and _overlap(box, _box(header)) > 1:
            problems.append(f"under the header: {_name(w)} at {[round(v) for v in box]}")
    # Touch targets must not overlap: a finger on one must not press another.
    for i, a in enumerate(targets):
        for b in targets[i + 1:]:
            if not (_ancestor(a, b) or _ancestor(b, a)) and _overlap(_box(a), _box(b)) > 1:
                problems.append(f"touch targets overlap: {_name(a)} and {_name(b)}")
    # A button's own text must stay inside the button (a long translation pushed past its edges).
    for target in targets:
        outer = _box(target)
        for label in texts:
            if _ancestor(target, label):
                box = _box(label)
                if box[0] < outer[0] - 2 or box[2] > outer[2] + 2 or box[1] < outer[1] - 2 or box[3] > outer[3] + 2:
                    problems.append(f"text sticks out of its button: {_name(label)} in {_name(target)}")
    # A button must not cover text that is not its own (a layout pushed past its space).
    for label in texts:
        box = _box(label)
        area = (box[2] - box[0]) * (box[3] - box[1])
        for target in targets:
            if _ancestor(target, label) or area <= 0:
                continue
            if _overlap(box, _box(target)) > 0.2 * area:
                problems.append(f"button covers text: {_name(target)} over {_name(label)}")
    # Text boxes on the same surface must not overlap (a layout squeezed past its space).
    for i, a in enumerate(texts):
        for b in texts[i + 1:]:
            if _surface(a) is not _surface(b) or _ancestor(a, b) or _ancestor(b, a):
                continue
            box_a, box_b = _box(a), _box(b)
            smaller = min((box_a[2] - box_a[0]) * (box_a[3] - box_a[1]), (box_b[2] - box_b[0]) * (box_b[3] - box_b[1]))
            if smaller > 0 and _overlap(box_a, box_b) > 0.2 * smaller:
                problems.append(f"text overlaps other text: {_name(a)} and {_name(b)}")
    return problems
