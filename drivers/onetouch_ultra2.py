"""LifeScan OneTouch Ultra 2 glucometer (LifeScan ASCII protocol).

Port: RS-232 through LifeScan's cable, usually a Prolific PL2303 adapter (``hwgrep://067b:2303``),
9600 8N1, no flow control.

Supported: firmware (``DM?``), serial number (``DM@``; Ultra 2 serials end in ``Y``), memory dump
(``DMP``) with meal markers, comment codes and control-solution flags. The kiosk takes the newest
reading taken after the session start; control-solution tests are ignored. Values are stored in
mg/dL (the meter's measuring range is 20–600 mg/dL); the documented dump format has no HI/LO
marker, so a stored value outside the range is rejected and the person measures again.
Not supported (not needed by the kiosk): setting the clock, erasing the memory.
"""
from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from drivers.base import Recording
from drivers.errors import DeviceTimeout, InvalidResponse, UnsupportedFeature
from drivers.glucose_common import Glucometer, MeterRecord, MeterSilent, MeterSimulation, TruncatedTransfer
from drivers.protocols import lifescan_ascii as proto
from drivers.readings import Unit

#: Garbage tolerated in front of one reply line before it counts as no reply.
_MAX_READ = 512


class OneTouchUltra2(Glucometer):
    """LifeScan OneTouch Ultra 2 over its serial cable."""

    NAME: ClassVar[str] = "onetouch-ultra2"
    MODEL: ClassVar[str] = "LifeScan OneTouch Ultra 2"
    BAUDRATE: ClassVar[int] = 9600
    SIMULATION = MeterSimulation("lifescan-ascii", serial="QAZ12345Y")
    #: docs/protocols.md §4.2, layouts as glucometerutils documents them (text, its 16-bit sum, CR LF):
    #: DM? the firmware, DM@ the serial, DMP the dump header and two records, newest (133 mg/dL,
    #: before a meal) first.
    RECORDED = (Recording((133, datetime(2013, 8, 3, 22, 12)), since=datetime(2013, 8, 3, 8, 0), exchanges=(
        (b"\x11\rDM?\r", (b"?P02.00.00 30/08/06 03BC\r\n",)),
        (b"\x11\rDM@\r", (b'@ "QAZ12345Y" 02E8\r\n',)),
        (b"\x11\rDMP\r", (b'P 002,"QAZ12345Y","MG/DL " 0599\r\n',
                          b'P "SAT","08/03/13","22:12:00   ","  133 ","B","00", 00 0999\r\n',
                          b'P "FRI","08/02/13","07:30:00   ","  095 ","N","00", 00 09A7\r\n')))),)
    TIMEOUT: ClassVar[float] = 2.0
    RANGE_MG_DL: ClassVar[tuple[int, int]] = (20, 600)

    def _line(self) -> bytes:
        return self.read_until(proto.CR, _MAX_READ)

    def _query(self, cmd: str, prefix: bytes) -> str:
        self.write(proto.command(cmd))
        try:
            raw = self._line()
        except DeviceTimeout as exc:
            raise MeterSilent(f"no reply to {cmd}: {exc}") from exc
        return proto.decode_line(raw, prefix)

    def identify(self) -> None:
        """Ask firmware and serial number (``DM?``, ``DM@``).

        Raises:
            MeterSilent: no reply.
            InvalidResponse: garbled reply.
            UnsupportedFeature: the serial number is not an Ultra 2's.
        """
        self.drain_input()
        firmware = proto.parse_firmware(self._query(proto.CMD_FIRMWARE, b"?"))
        serial = proto.parse_serial(self._query(proto.CMD_SERIAL, b"@ "))
        if not serial.endswith("Y"):
            raise UnsupportedFeature(f"meter serial {serial} is not a OneTouch Ultra 2 (their serials end in Y)")
        self._firmware, self._serial = firmware, serial

    def _device_fetch(self, deadline: float) -> list[MeterRecord]:
        if self._serial is None:
            self.identify()
        self.drain_input()
        header = proto.parse_dump_header(self._query(proto.CMD_DUMP, b"P "))
        if header.serial != self._serial:
            raise InvalidResponse(f"dump is from meter {header.serial}, expected {self._serial}")
        parsed = []
        for index in range(header.count):
            try:
                raw = self._line()
            except DeviceTimeout as exc:
                raise TruncatedTransfer(f"dump ended after {index} of {header.count} records") from exc
            parsed.append(proto.parse_dump_record(proto.decode_line(raw, b'P "')))
        # The dump has no record numbers: number the records from the oldest, 1 upwards.
        parsed.sort(key=lambda r: r.taken_at)
        return [MeterRecord(value=r.mg_dl, unit=Unit.MG_DL, taken_at=r.taken_at, seq=i, meal=r.meal,
                            control=r.control, suspect=r.parity_error)
                for i, r in enumerate(parsed, start=1)]
