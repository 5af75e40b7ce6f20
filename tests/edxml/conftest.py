"""Fixtures for the edxml tests: the shared SDK samples and a small valid package."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from shared_material import SDK_SAMPLES

from edxml import Code, DocumentPackage, Organization, build_document


@pytest.fixture
def samples() -> Path:
    """The shared SDK samples, next to the repository."""
    return SDK_SAMPLES


def organization(organ_id: str, name: str) -> Organization:
    return Organization(organ_id, organ_name=name, organ_add="Hà Nội")


@pytest.fixture
def document() -> DocumentPackage:
    return build_document(
        sender=organization("000.00.00.G22", "Văn phòng Chính phủ"),
        recipients=[organization("000.00.00.H41", "UBND Tỉnh Nghệ An")],
        code=Code("7816", "VPCP-TTĐT"),
        subject="V/v kết nối",
        promulgation_date=date(2024, 3, 1),
        timestamp=datetime(2024, 3, 1, 9, 30, 0),
    )
