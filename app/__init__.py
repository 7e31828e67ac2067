"""The front door: the ``yizhan`` command, the Kivy App wiring, the demo, benchmarks and field probes.

The only package that knows all the others (``tests/test_layers.py`` checks the floors).
"""
