"""Every message the code marks has a Simplified Chinese translation, and placeholders match."""
from __future__ import annotations

import re

from kiosk.i18n import Translator, catalog
from tests.support.catalog import marked_msgids

_FIELDS = re.compile(r"\{(\w*)\}")


def test_every_marked_message_is_translated_to_chinese():
    zh = catalog("zh_CN")
    missing = [f"{where}: {msgid!r}" for msgid, where in marked_msgids().items() if msgid not in zh]
    assert not missing, "untranslated:\n" + "\n".join(missing)


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
    from tests.support.catalog import ROOT
    found = [f"{p.relative_to(ROOT)}" for pkg in ("kiosk", "screens", "sync", "drivers", "config", "app", "hub")
             for p in (ROOT / pkg).rglob("*") if p.suffix in (".py", ".kv", ".po", ".toml", ".json")
             and "义诊" in p.read_text(encoding="utf-8")]
    assert not found, found
    assert Translator()._("Screening day") == "健康筛查日"
