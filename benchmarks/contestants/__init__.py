"""One module per contestant, each run as a script in its own process (and, for the peers,
its own virtualenv) by :mod:`benchmarks.run`."""
