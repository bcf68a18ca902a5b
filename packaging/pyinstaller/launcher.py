"""The packaged app's entry point: the same arguments as the ``storyreel`` console script.

PyInstaller freezes this file into the one executable of the bundle
(``storyreel`` / ``storyreel.exe`` / ``Storyreel.app``). It only hands over to
``app.cli.main``; everything else lives in the app.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    # A frozen child process (multiprocessing's spawn, or a process pool) re-runs this
    # executable; freeze_support() makes that child run its task instead of the CLI.
    multiprocessing.freeze_support()
    from app.cli import main

    sys.exit(main())
