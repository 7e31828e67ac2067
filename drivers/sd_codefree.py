"""SD Biosensor SD CodeFree glucometer (binary protocol).

Port: the meter's USB cable is a Silicon Labs CP210x bridge (``hwgrep://10c4:ea60``), 38400 8N1.

The meter starts each session itself when it is switched on with the cable plugged in: it
sends a challenge, the host answers, the meter sends its reading count, and the host fetches
the readings one by one (docs/protocols.md §4.5). Each reading has the date and time to the minute,
the value in mg/dL and a meal flag (none / before / after). The meter reports no serial number,
firmware or unit. Measuring range 10–600 mg/dL [unconfirmed: from the maker's leaflet, not the
protocol]; the protocol has no documented HI/LO marker, so a value outside the range is rejected.
Not supported: setting the clock (``ADATE…``).
"""
from __future__ import annotations

import time
from collections import deque
from datetime import datetime
from typing import ClassVar

from drivers.base import Recording
from drivers.errors import DeviceTimeout
from drivers.glucose_common import (Glucometer, MeterRecord, MeterSilent, MeterSimulation, NoNewReading,
                                    TruncatedTransfer)
from drivers.protocols import sdcodefree as proto
from drivers.readings import Unit


class SdCodeFree(Glucometer):
    """SD Biosensor SD CodeFree over its USB-serial cable."""

    NAME: ClassVar[str] = "sd-codefree"
    MODEL: ClassVar[str] = "SD Biosensor SD CodeFree"
    BAUDRATE: ClassVar[int] = 38400
    SIMULATION = MeterSimulation("sd-codefree")
    #: docs/protocols.md §4.5: the meter's challenge; the host's answer, the count (2); a fetch per
    #: reading, newest first: 2024-03-15 08:30 140 mg/dL before a meal, 2024-03-14 19:05 90 mg/dL.
    RECORDED = (Recording((140, datetime(2024, 3, 15, 8, 30)), since=datetime(2024, 3, 15, 8, 0),
                          device=(bytes.fromhex("53 20 04 10 30 20 aa"),), exchanges=(
        (bytes.fromhex("53 10 04 10 40 50 aa"), (bytes.fromhex("53 20 18 30 00 02" + " aa" * 19 + " 98 aa"),)),
        (bytes.fromhex("53 10 04 10 60 70 aa"), (bytes.fromhex("53 20 13 00 00 18 03 0f 08 1e 00 8c 10 00 00 00 00"
                                                               " 00 00 00 9e aa"),)),
        (bytes.fromhex("53 10 04 10 60 70 aa"), (bytes.fromhex("53 20 13 00 00 18 03 0e 13 05 00 5a 00 00 00 00 00"
                                                               " 00 00 00 59 aa"),)))),)
    TIMEOUT: ClassVar[float] = 2.0
    RANGE_MG_DL: ClassVar[tuple[int, int]] = (10, 600)
    CLOCK_RESOLUTION: ClassVar[int] = 60

    def _read_packet(self, decoder: proto.PacketDecoder, pending: deque, deadline: float) -> proto.Packet:
        while not pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DeviceTimeout("no complete packet from the meter")
            pending.extend(decoder.feed(self.read_some(min(left, self.TIMEOUT))))
        return proto.parse_packet(pending.popleft())

    def _device_fetch(self, deadline: float) -> list[MeterRecord]:
        self.drain_input()
        decoder, pending = proto.PacketDecoder(), deque()
        # The meter sends its challenge when switched on; wait for it up to the session deadline.
        while True:
            try:
                packet = self._read_packet(decoder, pending, deadline)
            except DeviceTimeout as exc:
                if self.transfers:
                    # It has talked before: the person has not measured yet.
                    raise NoNewReading("no new session from the meter before the timeout") from exc
                raise MeterSilent("the meter did not start a session; is it switched on?") from exc
            if packet.direction == proto.DIR_TO_HOST and packet.message == proto.MSG_CHALLENGE:
                break
        self.write(proto.build_packet(proto.MSG_ANSWER))
        step = time.monotonic() + self.TIMEOUT
        while True:
            try:
                packet = self._read_packet(decoder, pending, step)
            except DeviceTimeout as exc:
                raise TruncatedTransfer("no reading count after the handshake") from exc
            # Challenges the meter repeated before it saw the answer are stale: skip them.
            if packet.message != proto.MSG_CHALLENGE:
                break
        count = proto.parse_count(packet.message)
        records = []
        for index in range(count):
            self.write(proto.build_packet(proto.MSG_FETCH))
            try:
                packet = self._read_packet(decoder, pending, time.monotonic() + self.TIMEOUT)
            except DeviceTimeout as exc:
                raise TruncatedTransfer(f"transfer ended after {index} of {count} readings") from exc
            records.append(proto.parse_reading(packet.message))
        # No record numbers on the wire: number the readings from the oldest, 1 upwards; readings
        # of the same minute keep their order on the wire (later on the wire = newer).
        records.sort(key=lambda r: r.taken_at)
        return [MeterRecord(value=r.mg_dl, unit=Unit.MG_DL, taken_at=r.taken_at, seq=i, meal=r.meal)
                for i, r in enumerate(records, start=1)]
