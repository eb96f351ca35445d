"""Moves this Python process's clock when TEST_CLOCK is set: the suite's check that it passes on any date.

`make test-dates` puts this directory on PYTHONPATH, so every Python process of the run travels
(pytest, and the console script, helpers and probes the tests start): TEST_CLOCK=+400d is 400
days ahead, -30d 30 days back, 2026-11-27T12:00:00Z that moment; the clock then ticks on. An
interpreter without time_machine (the aws CLI's own venv) keeps the real clock.
"""

from __future__ import annotations

import importlib.util
import os
import time
from datetime import datetime

_clock = os.environ.get("TEST_CLOCK")
if _clock and importlib.util.find_spec("time_machine"):
    import time_machine

    if _clock[0] in "+-" and _clock.endswith("d"):
        offset = float(_clock[:-1]) * 86400
    else:
        offset = datetime.fromisoformat(_clock.replace("Z", "+00:00")).timestamp() - time.time()
        # Processes started later keep this one's offset, not the moment: one clock for the run.
        os.environ["TEST_CLOCK"] = f"{offset / 86400:+.9f}d"
    time_machine.travel(time.time() + offset, tick=True).start()
