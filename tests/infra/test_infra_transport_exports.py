"""The public surface of `axis.transport`: exactly `__all__`, sorted, each name defined in the package."""

import inspect

from axis import transport

EXPECTED = [
    "Batch",
    "Consumer",
    "EpochWatch",
    "OutRecord",
    "Publisher",
    "current_epoch",
    "ensure_topics",
    "exchange_topics",
    "make_consumer",
    "make_producer",
    "map_kafka_errors",
    "rewind",
    "stop_consumer",
]


def test_all_is_sorted_and_names_the_same_api_as_before_the_split() -> None:
    assert transport.__all__ == sorted(transport.__all__)
    assert transport.__all__ == EXPECTED


def test_every_public_name_is_exported_and_every_export_exists() -> None:
    public = {name for name in dir(transport) if not name.startswith("_")}
    assert public == set(transport.__all__)


def test_exported_classes_and_functions_are_defined_in_the_private_modules() -> None:
    for name in transport.__all__:
        member = getattr(transport, name)
        if inspect.isclass(member) or inspect.isfunction(member):
            assert member.__module__.startswith("axis.transport._"), (name, member.__module__)
