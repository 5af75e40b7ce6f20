import inspect

import edxml


def test_all_is_sorted_constants_first() -> None:
    exported = edxml.__all__
    assert exported == sorted(exported, key=lambda name: (not name.isupper(), name))


def test_every_public_name_is_exported_and_every_export_exists() -> None:
    # isidentifier(): the axis pytest plugin makes pytest rewrite this distribution's asserts (`@py_builtins`).
    public = {name for name in dir(edxml) if name.isidentifier() and not name.startswith("_") and name != "errors"}
    assert public == set(edxml.__all__)


def test_exported_classes_and_functions_are_defined_in_the_package() -> None:
    for name in edxml.__all__:
        member = getattr(edxml, name)
        if inspect.isclass(member) or inspect.isfunction(member):
            assert member.__module__.startswith("edxml."), (name, member.__module__)
