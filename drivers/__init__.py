"""Hardware drivers: one module per device model, framing shared in ``drivers/protocols/``.

The registry is the ``yizhan.drivers`` entry-point group (``[project.entry-points."yizhan.drivers"]``
in ``pyproject.toml``, read with :mod:`importlib.metadata`): each entry is named ``<kind>.<driver
name>`` and points at the driver class, e.g. ``"bp.maibobo" = "drivers.maibobo:Maibobo"``. The
driver name is what installers type in ``config/`` and on the command line. A vendor can ship a
device as a plugin package with its own entry in the same group. The simulators, probes, benchmarks
and tests read this one registry; nothing else lists drivers.
"""
from __future__ import annotations

import functools
from importlib.metadata import EntryPoint, entry_points

#: The entry-point group drivers register in.
GROUP = "yizhan.drivers"


class UnknownDriver(LookupError):
    """No driver of that kind has that name."""


@functools.cache
def _entries() -> dict[str, dict[str, EntryPoint]]:
    out: dict[str, dict[str, EntryPoint]] = {}
    for ep in entry_points(group=GROUP):
        kind, _, name = ep.name.partition(".")
        if name:
            out.setdefault(kind, {})[name] = ep
    return out


def registry() -> dict[str, dict[str, str]]:
    """kind -> driver name -> ``"module:Class"``, from the installed entry points (read once per process)."""
    return {kind: {name: ep.value for name, ep in names.items()} for kind, names in _entries().items()}


def driver_names(kind: str) -> list[str]:
    """The registered driver names of one device kind, sorted."""
    return sorted(_entries().get(kind, {}))


def load_driver(kind: str, name: str) -> type:
    """Import and return the driver class registered as ``name`` for ``kind``.

    Raises:
        UnknownDriver: with the list of valid names.
    """
    ep = _entries().get(kind, {}).get(name)
    if ep is None:
        known = ", ".join(driver_names(kind)) or "none"
        raise UnknownDriver(f"no {kind} driver named {name!r}; known: {known} (drivers register in the "
                            f"{GROUP!r} entry points of pyproject.toml; after editing it run scripts/setup.sh)")
    return ep.load()


def load_drivers(kind: str) -> dict[str, type]:
    """Every registered driver class of ``kind``, by name (imports them)."""
    return {name: load_driver(kind, name) for name in driver_names(kind)}
