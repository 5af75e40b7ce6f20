"""Who exchanges in a synthetic recording, and how big their documents are.

Agencies have organ ids of the QĐ 20/2020/QĐ-TTg shape: ministries `000.00.00.Gnn`, provinces
`000.00.00.Hpp`, districts `000.dd.pp.Hpp` (the district fills the second group) and communes
`ccc.dd.pp.Hpp` (the commune fills the first). The shapes are real; the pairing of codes and names is not.

Sizes come from a `SizeProfile`: a spec such as `10KB-500KB:90,500KB-2MB:6,2MB-20MB:4;attachments=1:60,2:25,3-5:15`
(size ranges drawn log-uniformly by weight, then attachment counts by weight), or a named preset.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

from ._errors import ReplayError

MINISTRIES = (
    "Văn phòng Chính phủ",
    "Bộ Tài chính",
    "Bộ Nội vụ",
    "Bộ Tư pháp",
    "Bộ Y tế",
    "Bộ Giáo dục và Đào tạo",
    "Bộ Xây dựng",
    "Bộ Công Thương",
    "Bộ Nông nghiệp và Môi trường",
    "Bộ Khoa học và Công nghệ",
    "Bộ Văn hóa, Thể thao và Du lịch",
    "Bộ Ngoại giao",
    "Bộ Quốc phòng",
    "Bộ Công an",
    "Thanh tra Chính phủ",
    "Ngân hàng Nhà nước Việt Nam",
    "Ủy ban Dân tộc",
)
PROVINCES = (
    "Hà Nội",
    "Hải Phòng",
    "Đà Nẵng",
    "Thành phố Hồ Chí Minh",
    "Cần Thơ",
    "Nghệ An",
    "Thanh Hóa",
    "Cao Bằng",
    "Lào Cai",
    "Quảng Ninh",
    "Thừa Thiên Huế",
    "Quảng Nam",
    "Khánh Hòa",
    "Lâm Đồng",
    "Đắk Lắk",
    "Bình Dương",
    "Đồng Nai",
    "An Giang",
    "Kiên Giang",
    "Cà Mau",
    "Hà Tĩnh",
    "Quảng Bình",
    "Bắc Ninh",
    "Thái Nguyên",
)
MAX_AGENCIES = 600  # provinces (15 %) must fit the two digits of Hpp
PRESETS = {
    "national": "10KB-500KB:90,500KB-2MB:6,2MB-20MB:4;attachments=1:60,2:25,3-5:15",
    "small": "1KB-4KB:100;attachments=1:100",
}
_UNITS = {"B": 1, "KB": 1024, "MB": 1024 * 1024}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)(B|KB|MB)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SynthAgency:
    organ_id: str
    name: str
    level: str
    parent: str | None = None


def population(count: int, rng: random.Random) -> list[SynthAgency]:
    """`count` agencies: about 10 % ministries, 15 % provinces, 30 % districts, the rest communes."""
    if not 2 <= count <= MAX_AGENCIES:
        raise ReplayError(f"a synthetic exchange has 2 to {MAX_AGENCIES} agencies, not {count}")
    ministries = max(1, round(count * 0.10))
    provinces = max(1, round(count * 0.15))
    districts = min(count - ministries - provinces, max(0, round(count * 0.30)))
    communes = count - ministries - provinces - districts
    if communes and not districts:
        districts, communes = 1, communes - 1
    agencies = [SynthAgency(f"000.00.00.G{n + 1:02d}", _nth(MINISTRIES, n), "ministry") for n in range(ministries)]
    province_codes = rng.sample(range(1, 100), provinces)
    for n, code in enumerate(province_codes):
        agencies.append(SynthAgency(f"000.00.00.H{code:02d}", f"UBND {_nth(PROVINCES, n)}", "province"))
    district_list = []
    for n in range(districts):
        province = agencies[ministries + n % provinces]
        code = province.organ_id[-2:]
        district = SynthAgency(
            f"000.{n // provinces + 1:02d}.{code}.H{code}",
            f"UBND huyện số {n // provinces + 1} - {province.name[5:]}",
            "district",
            province.organ_id,
        )
        district_list.append(district)
    agencies += district_list
    for n in range(communes):
        district = district_list[n % len(district_list)]
        _, dd, pp, hp = district.organ_id.split(".")
        agencies.append(
            SynthAgency(
                f"{n // len(district_list) + 1:03d}.{dd}.{pp}.{hp}",
                f"UBND xã số {n // len(district_list) + 1} - {district.name[5:]}",
                "commune",
                district.organ_id,
            )
        )
    return agencies


def _nth(names: tuple[str, ...], n: int) -> str:
    return names[n] if n < len(names) else f"{names[n % len(names)]} {n // len(names) + 1}"


def _bytes(text: str, spec: str) -> int:
    match = _SIZE.match(text.strip())
    if not match:
        raise ReplayError(f"sizes {spec!r}: {text!r} is not a size such as 500B, 10KB or 2MB")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def _weights(text: str, spec: str) -> list[tuple[str, float]]:
    items = []
    for part in text.split(","):
        value, sep, weight = part.strip().rpartition(":")
        try:
            number = float(weight)
        except ValueError:
            number = -1.0
        if not sep or not value or number < 0:
            raise ReplayError(f"sizes {spec!r}: {part.strip()!r} is not VALUE:WEIGHT")
        items.append((value, number))
    if not any(w > 0 for _, w in items):
        raise ReplayError(f"sizes {spec!r}: every weight is zero")
    return items


@dataclass(frozen=True, slots=True)
class SizeProfile:
    """Document sizes (ranges with weights) and attachment counts (ranges with weights)."""

    spec: str
    sizes: tuple[tuple[int, int, float], ...]
    attachments: tuple[tuple[int, int, float], ...]

    @classmethod
    def parse(cls, text: str) -> SizeProfile:
        spec = PRESETS.get(text.strip(), text.strip())
        sizes_text, _, rest = spec.partition(";")
        counts_text = rest.strip().removeprefix("attachments=") if rest.strip() else "1:100"
        sizes = []
        for value, weight in _weights(sizes_text, spec):
            low, _, high = value.partition("-")
            lo, hi = _bytes(low, spec), _bytes(high or low, spec)
            if not 0 < lo <= hi:
                raise ReplayError(f"sizes {spec!r}: range {value!r} must go from a positive size up")
            sizes.append((lo, hi, weight))
        counts = []
        for value, weight in _weights(counts_text, spec):
            low, _, high = value.partition("-")
            if not (low.isdigit() and (high or low).isdigit()) or not 1 <= int(low) <= int(high or low):
                raise ReplayError(f"sizes {spec!r}: attachment count {value!r} must be N or N-M with 1 <= N <= M")
            counts.append((int(low), int(high or low), weight))
        return cls(spec, tuple(sizes), tuple(counts))

    def document_size(self, rng: random.Random) -> int:
        lo, hi, _ = rng.choices(self.sizes, weights=[w for *_, w in self.sizes])[0]
        return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))

    def attachment_count(self, rng: random.Random) -> int:
        lo, hi, _ = rng.choices(self.attachments, weights=[w for *_, w in self.attachments])[0]
        return rng.randint(lo, hi)
