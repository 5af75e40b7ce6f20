"""The public faces of replay and of the testing plugin: sorted, complete, nothing private."""

from __future__ import annotations

import axis.replay
import axis.testing


def test_public_names_are_sorted_exported_and_public() -> None:
    for module in (axis.replay, axis.testing):
        assert module.__all__ == sorted(module.__all__, key=lambda n: (not n.isupper(), n)), module.__name__
        for name in module.__all__:
            assert not name.startswith("_") and hasattr(module, name), (module.__name__, name)
