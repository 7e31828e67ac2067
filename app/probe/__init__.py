"""Field probes (``yizhan probe …``): read once, print one JSON object or a clear error, exit non-zero on failure."""
