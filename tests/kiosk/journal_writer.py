"""Child process for the durability test: appends records and reports each one after append returns."""
from __future__ import annotations

import sys

from kiosk.journal import Journal
from kiosk.records import Visit


def main() -> None:
    path, station = sys.argv[1], sys.argv[2]
    journal = Journal(path, station)
    i = 0
    while True:
        result = journal.append(Visit(person_key=f"key-{i:06d}", source="demo", role="resident"))
        # Only after append returned (committed) does the parent learn about the record.
        sys.stdout.write(f"{result.record.id} {result.record.seq} {i}\n")
        sys.stdout.flush()
        i += 1


if __name__ == "__main__":
    main()
