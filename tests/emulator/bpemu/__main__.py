"""Command line: ``python -m bpemu --port PORT [--watch-stdin]``."""

from .server import main

main()
