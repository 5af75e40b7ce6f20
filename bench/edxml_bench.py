"""Parse and serialise throughput of EDXML packages of about 10 KB and 1 MB.

Usage: python bench/edxml_bench.py [--json] [--seconds S]
With --json the last line is one JSON object:
{"10KB"|"1MB": {"size_bytes": n, "parse_lenient"|"validate_strict"|"serialize": {"packages_per_s", "mb_per_s"}}}.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from datetime import date, datetime

from edxml import (
    Attachment,
    Code,
    Organization,
    Package,
    build_document,
    parse_package,
    serialize,
    validate,
)


def make_package(attachment_bytes: int) -> Package:
    organ = Organization("000.00.00.G22", "Văn phòng Chính phủ", organ_add="Số 1 Hoàng Hoa Thám, Hà Nội")
    recipients = [Organization(f"000.00.00.H{i:02d}", f"UBND Tỉnh {i}", organ_add="Việt Nam") for i in range(10, 15)]
    return build_document(
        sender=organ,
        recipients=recipients,
        code=Code("7816", "VPCP-TTĐT"),
        subject="V/v kết nối, liên thông phần mềm quản lý văn bản " * 3,
        promulgation_date=date(2024, 3, 1),
        timestamp=datetime(2024, 3, 1, 9, 30),
        attachments=[Attachment("cid:1", "van-ban.pdf", "application/pdf", data=os.urandom(attachment_bytes))],
    )


def rate(fn: Callable[[], object], size: int, seconds: float) -> dict[str, float]:
    fn()  # warm up (schema compile, caches)
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        count += 1
    return {"packages_per_s": round(count / elapsed, 1), "mb_per_s": round(count * size / elapsed / 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    results: dict[str, dict[str, object]] = {}
    for label, raw in (("10KB", 5_000), ("1MB", 760_000)):
        pkg = make_package(raw)
        data = serialize(pkg)
        ops = {
            "parse_lenient": rate(lambda d=data: parse_package(d), len(data), args.seconds),
            "validate_strict": rate(lambda d=data: validate(d, profile="strict"), len(data), args.seconds),
            "serialize": rate(lambda p=pkg: serialize(p), len(data), args.seconds),
        }
        results[label] = {"size_bytes": len(data), **ops}
        for op, figures in ops.items():
            print(f"{label:>5} ({len(data):>8} B) {op:<16} {figures['packages_per_s']:>9.1f} packages/s {figures['mb_per_s']:>7.1f} MB/s")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
