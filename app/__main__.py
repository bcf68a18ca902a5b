"""``python -m app``: the ``storyreel`` command."""

import multiprocessing

from app.cli import main

if __name__ == "__main__":
    # A spawned child (the embedded history server) imports no __main__ of a package,
    # but guard anyway; freeze_support() is what a frozen build's children need.
    multiprocessing.freeze_support()
    raise SystemExit(main())
