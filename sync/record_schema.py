"""Export the JSON Schema of every record kind's payload for integrators:

    python -m sync.record_schema > docs/schemas/record-payloads.schema.json

(Here, not in :mod:`kiosk.schema`, because the schema names every kind only once the kind modules
are imported, which the hub's door does: :mod:`sync.messages`.)
"""
from __future__ import annotations

import sys

import sync.messages  # noqa: F401  (registers every record kind)
from kiosk.schema import dump_json_schema

if __name__ == "__main__":
    sys.stdout.write(dump_json_schema())
