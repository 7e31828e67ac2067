"""Device simulators that speak the real protocols over a pseudo-terminal (``yizhan sim …``).

Each simulator module exposes ``add_arguments(parser)`` and ``run(args) -> int`` for the CLI, and a
class usable in-process by tests, the demo and benchmarks.
"""
