"""The facade's public API is what `__all__` says, sorted, and nothing private leaks through it."""

import agents.vdxp


def test_the_public_names_are_sorted_and_all_exist() -> None:
    names = agents.vdxp.__all__
    assert names == sorted(names)
    assert all(hasattr(agents.vdxp, n) and not n.startswith("_") for n in names)
