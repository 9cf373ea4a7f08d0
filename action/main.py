"""Entry point that action.yml runs as `python3 -I -S action/main.py`, inputs in INPUT_*."""

# Kept this small on purpose: the script Python is given is compiled on every run (only
# imported modules get cached .pyc files), and compiling the modes' code costs ~5 ms.

import sys

# -I keeps the script's own folder off sys.path; the `action` package is one level up.
# __file__ is absolute from Python 3.9 on; `os.path` would cost 2 ms to import here.
_folder = __file__.replace("\\", "/").rpartition("/")[0]
sys.path.insert(0, _folder.rpartition("/")[0] or "/")

from action.modes import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
