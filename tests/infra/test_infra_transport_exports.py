"""The public surface of `axis.transport`: exactly `__all__`, sorted, each name defined in the package."""

import inspect

from axis import transport

EXPECTED = [
    "AclBinding",
    "AclOperation",
    "AclPattern",
    "AclResource",
    "Batch",
    "Consumer",
    "EpochWatch",
    "KafkaSecurity",
    "OutRecord",
    "PLAINTEXT",
    "Publisher",
    "apply_acls",
    "current_epoch",
    "ensure_topics",
    "exchange_topics",
    "kafka_security",
    "make_admin",
    "make_consumer",
    "make_producer",
    "map_kafka_errors",
    "rewind",
    "stop_consumer",
]


def test_all_is_sorted_and_names_the_documented_api() -> None:
    assert transport.__all__ == sorted(transport.__all__)
    assert transport.__all__ == EXPECTED


def test_every_public_name_is_exported_and_every_export_exists() -> None:
    # isidentifier(): the axis pytest plugin makes pytest rewrite this distribution's asserts (`@py_builtins`).
    public = {name for name in dir(transport) if name.isidentifier() and not name.startswith("_")}
    assert public == set(transport.__all__)


def test_exported_classes_and_functions_are_defined_in_the_private_modules() -> None:
    for name in transport.__all__:
        member = getattr(transport, name)
        if inspect.isclass(member) or inspect.isfunction(member):
            assert member.__module__.startswith("axis.transport._"), (name, member.__module__)
