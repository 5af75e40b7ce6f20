"""The console's public face: a sorted `__all__`, nothing public left out, everything defined in the package."""

from __future__ import annotations

import inspect

import axis.console as console


def test_all_is_sorted_constants_first() -> None:
    exported = console.__all__
    assert exported == sorted(exported, key=lambda name: (not name.isupper(), name))


def test_every_public_name_is_exported_and_every_export_exists() -> None:
    public = {name for name in dir(console) if name.isidentifier() and not name.startswith("_")}  # not pytest's @py_*
    assert public == set(console.__all__)


def test_exported_classes_and_functions_are_defined_in_the_package() -> None:
    for name in console.__all__:
        member = getattr(console, name)
        if inspect.isclass(member) or inspect.isfunction(member):
            assert member.__module__.startswith("axis.console."), (name, member.__module__)
