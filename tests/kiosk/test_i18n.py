"""Every message the code marks has a Simplified Chinese translation, and placeholders match."""
from __future__ import annotations

import importlib
import inspect
import re

import pytest
from babel.messages.pofile import read_po as babel_read_po

from kiosk.i18n import LOCALE_DIR, Translator, catalog, read_po
from tests.support.catalog import ROOT, marked_msgids

_FIELDS = re.compile(r"\{(\w*)\}")


@pytest.mark.slow
def test_every_marked_message_is_translated_to_chinese():
    zh = catalog("zh_CN")
    missing = [f"{where}: {msgid!r}" for msgid, where in marked_msgids().items() if msgid not in zh]
    assert not missing, "untranslated:\n" + "\n".join(missing)


@pytest.mark.parametrize("po", sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po")), ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_the_catalog_reader_reads_every_file_as_babel_does(po):
    with po.open("rb") as fh:
        expected = {str(m.id): str(m.string) for m in babel_read_po(fh) if m.id and m.string and not m.fuzzy}
    assert read_po(po) == expected


def test_the_catalog_reader_skips_fuzzy_entries_and_joins_continued_strings(tmp_path):
    po = tmp_path / "x.po"
    po.write_text('msgid ""\nmsgstr ""\n"Language: zh_CN\\n"\n\n#, fuzzy\nmsgid "Old"\nmsgstr "旧"\n\n'
                  'msgid "Two "\n"lines"\nmsgstr "两"\n"行\\n\\"引\\""\n\nmsgid "Empty"\nmsgstr ""\n', encoding="utf-8")
    assert read_po(po) == {"Two lines": '两行\n"引"'}


def test_the_catalog_reader_refuses_what_it_does_not_read(tmp_path):
    po = tmp_path / "x.po"
    po.write_text('msgctxt "menu"\nmsgid "Open"\nmsgstr "打开"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="x.po:1"):
        read_po(po)


def test_translations_keep_their_placeholders():
    zh = catalog("zh_CN")
    wrong = [m for m, t in zh.items() if sorted(_FIELDS.findall(m)) != sorted(_FIELDS.findall(t))]
    assert not wrong, wrong


def test_translator_defaults_to_chinese_and_falls_back_to_the_id():
    assert Translator()._("Health check") == "健康自测"
    assert Translator("en")._("Health check") == "Health check"
    assert Translator("xx").lang == "zh_CN"
    assert Translator("zh_CN")._("Returning to the start in {n} seconds", n=9) == "9 秒后将返回首页"


def test_the_staffed_mode_is_a_screening_day_never_a_free_clinic():
    """义诊 is doctors seeing residents and handing out medicine; the kiosk's staffed queue is a
    健康筛查日. Nothing the product shows or ships (catalogs, screens, default catalogs) says 义诊."""
    found = [f"{p.relative_to(ROOT)}" for pkg in ("kiosk", "screens", "sync", "drivers", "config", "app", "hub")
             for p in (ROOT / pkg).rglob("*") if p.suffix in (".py", ".kv", ".po", ".toml", ".json")
             and "义诊" in p.read_text(encoding="utf-8")]
    assert not found, found
    assert Translator()._("Screening day") == "健康筛查日"


def _error_classes() -> list[type]:
    """Every exception class defined in drivers/, kiosk/ and sync/ (the modules are imported)."""
    found = []
    for pkg in ("drivers", "kiosk", "sync"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
            module = importlib.import_module(name)
            found += [c for _, c in inspect.getmembers(module, inspect.isclass)
                      if issubclass(c, Exception) and c.__module__ == name]
    return found


def test_every_error_that_names_a_message_carries_it_in_both_languages():
    """One place per error: a class with a ``user_key`` carries its ``user_message`` (an English
    message id with a Chinese translation); no parallel message tables."""
    classes = [c for c in _error_classes() if hasattr(c, "user_key")]
    assert len(classes) > 60
    zh = catalog("zh_CN")
    missing = [f"{c.__module__}.{c.__qualname__}" for c in classes
               if not getattr(c, "user_message", "") or c.user_message not in zh]
    assert not missing, "errors without a translated user_message: " + ", ".join(missing)
    tables = [str(p.relative_to(ROOT)) for pkg in ("drivers", "kiosk", "sync", "app") for p in (ROOT / pkg).rglob("*.py")
              if re.search(r"\bUSER_MESSAGES\b", p.read_text(encoding="utf-8"))]
    assert not tables, f"parallel message tables in {tables}"
