"""Frame builders and a scripted fake port for SAM ID card reader tests.

``cmd()``/``rsp()`` build frames from hex so tests read like the protocol tables; the text-block
builder writes fields at literal byte offsets, independent of the simulator's encoder.
"""
from __future__ import annotations

from functools import reduce

from drivers.errors import DeviceTimeout

PREAMBLE = bytes.fromhex("AA AA AA 96 69")


def _xor(data: bytes) -> int:
    return reduce(lambda a, b: a ^ b, data, 0)


def cmd(hexbody: str) -> bytes:
    """A command frame from 'CMD Para [data]' hex."""
    body = bytes.fromhex(hexbody)
    head = (len(body) + 1).to_bytes(2, "big") + body
    return PREAMBLE + head + bytes((_xor(head),))


def rsp(sw3: int, data: bytes = b"", sw1: int = 0, sw2: int = 0) -> bytes:
    """A response frame with SW1 SW2 SW3, data and checksum."""
    body = bytes((sw1, sw2, sw3)) + data
    head = (len(body) + 1).to_bytes(2, "big") + body
    return PREAMBLE + head + bytes((_xor(head),))


def read_payload(text: bytes, photo: bytes = bytes(1024), fingerprint: bytes | None = None) -> bytes:
    """Data of a read response: the length fields then the blocks (fingerprint variant if given)."""
    blocks = [text, photo] + ([fingerprint] if fingerprint is not None else [])
    return b"".join(len(b).to_bytes(2, "big") for b in blocks) + b"".join(blocks)


class BytesSource:
    """``read_exact`` over a byte string: what a port with a timeout gives, without waiting."""

    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)
        self.pos = 0

    def read_exact(self, n: int) -> bytes:
        chunk = self.data[self.pos:self.pos + n]
        self.pos += len(chunk)
        if len(chunk) != n:
            raise DeviceTimeout(f"expected {n} bytes, got {len(chunk)}")
        return chunk


class FakeSerial:
    """A serial port that answers each write with the next scripted response.

    Args:
        script: one item per expected command: bytes to send back, or None for silence.

    Attributes:
        written: every write, in order.
        stale: bytes already waiting in the input buffer (discarded by reset_input_buffer).
    """

    def __init__(self, script: list[bytes | None] | None = None) -> None:
        self.script = list(script or [])
        self.written: list[bytes] = []
        self.inbuf = b""
        self.timeout = 1.0
        self.is_open = True
        self.resets = 0

    def add(self, *responses: bytes | None) -> None:
        self.script.extend(responses)

    def write(self, data: bytes) -> int:
        self.written.append(bytes(data))
        if self.script:
            item = self.script.pop(0)
            if item is not None:
                self.inbuf += item
        return len(data)

    def flush(self) -> None:
        pass

    def reset_input_buffer(self) -> None:
        self.resets += 1
        self.inbuf = b""

    def read(self, n: int) -> bytes:
        out, self.inbuf = self.inbuf[:n], self.inbuf[n:]
        return out

    def close(self) -> None:
        self.is_open = False


def utf16(value: str) -> bytes:
    return value.encode("utf-16-le")


def text_block(fields: dict[int, str], flag: str = " ") -> bytes:
    """A 256-byte UCS-2 LE block of spaces with ``fields`` written at their byte offsets."""
    block = bytearray(utf16(" ") * 128)
    for offset, value in fields.items():
        raw = utf16(value)[:256 - offset]
        block[offset:offset + len(raw)] = raw
    block[248:250] = utf16(flag)
    return bytes(block)


def resident_fields(**over: str) -> dict[int, str]:
    """Fields of a synthetic resident card at the offsets of docs/protocols.md §1.6."""
    values = {"name": "王测明", "gender": "1", "ethnicity": "01", "birth": "19491231",
              "address": "北京市朝阳区样例路1号", "number": "11010519491231002X", "issuer": "北京市公安局朝阳分局",
              "start": "20100101", "end": "长期"}
    values.update(over)
    offsets = {"name": 0, "gender": 30, "ethnicity": 32, "birth": 36, "address": 52, "number": 122,
               "issuer": 158, "start": 188, "end": 204}
    return {offsets[k]: v for k, v in values.items()}
