"""The kit is a package of its own (kits/python). .ci/run installs it; a checkout where only the
gateway is installed (the README's test command) tests it from its source tree."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("yihaotong_resource") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "kits" / "python" / "src"))
