"""Hypothesis profiles for every test under this folder (``tests/`` and ``plugins/*/tests``).

Choose one with ``HYPOTHESIS_PROFILE=name``:

- ``default``: 50 examples per test, no deadline (the machine is shared; timing is not tested);
- ``ci``: 100 examples, derandomised so a CI run is reproducible, failing examples printed
  (``.ci/run`` selects it);
- ``dev``: 10 examples, for a quick loop while editing;
- ``repeat``: as ``default``, for ``pytest --count`` (``make stress-test`` selects it).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

# No "explain" phase: on Python 3.11 it re-runs a failing example under sys.settrace, which on a
# loaded machine took longer than pytest-timeout's 300 s, so a real failure showed as a timeout.
_PHASES = tuple(phase for phase in Phase if phase is not Phase.explain)
_COMMON = {
    "deadline": None,
    "phases": _PHASES,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("default", max_examples=50, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("ci", max_examples=100, derandomize=True, print_blob=True,
                          **_COMMON)  # type: ignore[arg-type]
settings.register_profile("dev", max_examples=10, **_COMMON)  # type: ignore[arg-type]
# make stress-test's repeat pass (pytest-repeat's --count): each repeat of a test method runs
# on a new instance of its class, which Hypothesis would take for a second executor.
settings.register_profile("repeat", max_examples=50, deadline=None, phases=_PHASES,
                          suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.differing_executors])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
