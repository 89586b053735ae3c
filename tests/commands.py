"""The `harmony` executable the tests run, next to this interpreter in the project's .venv."""

from __future__ import annotations

import sys
from pathlib import Path

HARMONY = str(Path(sys.executable).with_name("harmony"))
