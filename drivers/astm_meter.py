"""Glucometers that send ASTM E1381/E1394 over a serial line (Ascensia/Bayer Contour family,
point-of-care meters with an RS-232 or USB-serial data port).

Port: 9600 8N1 by default (set ``baudrate`` in config if the meter is configured otherwise).

Link (docs/protocols.md §4.7): the host asks for data with EOT, as Contour meters expect; the meter
opens with ENQ, the host answers ACK, then ACKs each frame whose checksum and frame number are
right and NAKs the others (the meter sends them again); EOT ends the transfer. Records: the
header ``H`` gives product, firmware versions, serial, unit (``U=0`` mg/dL, ``U=1`` mmol/L), the
measuring range (``V=10600`` = 10–600 mg/dL) and the meter's clock; each ``R`` record with test
``^^^Glucose`` is one reading (sequence number, value, unit, time). Results beyond the range are
flagged by ``>``/``<`` (E1394 abnormal flags) or a ``HI``/``LO`` value and become ``range_flag``.
Contour's other marker letters are [unconfirmed] and not interpreted (no meal context, no
control-solution detection).
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import ClassVar

from drivers.base import Recording
from drivers.errors import DeviceTimeout, InvalidResponse
from drivers.glucose_common import Glucometer, MeterRecord, MeterSilent, MeterSimulation
from drivers.protocols import astm
from drivers.readings import DeviceInfo, Unit

_NUMBER = re.compile(r"[0-9]{1,4}(\.[0-9]{1,2})?")
_UNITS = {"mg/dl": Unit.MG_DL, "mmol/l": Unit.MMOL_L}


class AstmMeter(Glucometer):
    """A glucometer speaking ASTM E1381/E1394 on a serial port."""

    NAME: ClassVar[str] = "astm"
    MODEL: ClassVar[str] = "ASTM E1381/E1394 glucometer"
    BAUDRATE: ClassVar[int] = 9600
    SIMULATION = MeterSimulation("astm", serial="7390-2336773")
    #: docs/protocols.md §4.7: the host's EOT asks, the meter's ENQ, then one ACK per frame. The header
    #: frame is the Contour's recorded in glucometerutils' tests (checksum D7); the patient, result
    #: (133 mg/dL, 2012-02-05 20:34) and terminator frames are composed from the documented layout.
    RECORDED = (Recording((133, datetime(2012, 2, 5, 20, 34)), since=datetime(2012, 2, 5, 20, 0), exchanges=(
        (b"\x04", (b"\x05",)),
        (b"\x06", (b"\x021H|\\^&||7w3LBL|Bayer7390^01.24\\01.04\\09.02.20^7390-2336773^7403-|A=1^C=63^G=1^I=0200^"
                   b"R=0^S=1^U=0^V=10600^X=070070070070180130150250^Y=360126090050099050300089^Z=1|1714||||||1|"
                   b"201909221304\r\x17D7\r\n",)),
        (b"\x06", (b"\x022P|1\r\x033F\r\n",)),
        (b"\x06", (b"\x023R|8|^^^Glucose|133|mg/dL^P||B/X||201202052034\r\x03AF\r\n",)),
        (b"\x06", (b"\x024L|1|N\r\x0307\r\n",)),
        (b"\x06", (b"\x04",)))),)
    TIMEOUT: ClassVar[float] = 2.0
    RANGE_MG_DL: ClassVar[tuple[int, int]] = (10, 600)
    CLOCK_RESOLUTION: ClassVar[int] = 60

    def _device_fetch(self, deadline: float) -> list[MeterRecord]:
        self.drain_input()
        self.write(astm.EOT)
        link = astm.LinkReceiver(self, self.TIMEOUT)
        try:
            link.wait_enq(self.TIMEOUT)
        except DeviceTimeout as exc:
            raise MeterSilent(str(exc)) from exc
        header, results = astm.check_message(link.receive())
        self._serial = header.serial or None
        self._firmware = "/".join(header.versions) or None
        self._range_override = header.range_mg_dl
        self._product = header.product or None
        return [self._record(r, header) for r in results if r.test.lower() == "glucose"]

    def device_info(self) -> DeviceInfo:
        """As the base, with the product code from the last header (``Bayer7390`` …) in the model."""
        info = super().device_info()
        product = getattr(self, "_product", None)
        return DeviceInfo(info.driver, f"{self.MODEL} ({product})" if product else self.MODEL,
                          info.serial, info.firmware)

    def _record(self, result: astm.Result, header: astm.Header) -> MeterRecord:
        # A result without a unit is in the header's unit; an unknown unit is an error.
        unit = _UNITS.get(result.unit.lower()) if result.unit else header.unit
        if unit is None:
            raise InvalidResponse(f"result {result.seq} has no known unit: {result.unit!r}")
        if result.range_flag is not None:
            value = 0.0
        elif _NUMBER.fullmatch(result.value):
            value = float(result.value)
        else:
            raise InvalidResponse(f"result {result.seq} value is not a number: {result.value!r}")
        return MeterRecord(value=value, unit=unit, taken_at=result.taken_at, seq=result.seq,
                           range_flag=result.range_flag)
