"""Replay throughput: synthesise a national-style recording, play it into a broker at --speed max, and
re-sign a sample of its packages as `--resign` would.

    .venv/bin/python bench/replay_bench.py                      # 100,000 documents, small sizes
    .venv/bin/python bench/replay_bench.py --documents 2000 --json

The play goes into an embedded broker holding the exchange's topics, with no router reading: the figure is
what the player sustains (read and check the file, decode, publish in order, wait for every broker ack),
not what a router judges per second (bench/exchange_bench.py measures that). Sizes are `small` (1-4 KB per
document) by default: the embedded broker never gives memory back, and 100,000 documents of the national
profile (about 0.5 MB each) would need some 50 GB. A watchdog fails the bench, saying where it was, if it
runs longer than --timeout seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from axis.embedded import EmbeddedBroker
from axis.replay import Recording, play, synthesise
from axis.replay._resign import Resigner, is_package
from axis.settings import Settings
from axis.transport import ensure_topics, exchange_topics
from signing import DevPki, Signer, SigningIdentity

_stage = "starting"


def _watchdog(timeout_s: float) -> threading.Timer:
    def fail() -> None:
        sys.stderr.write(f"replay bench: no result after {timeout_s:.0f} s (stage: {_stage}); stacks follow\n")
        faulthandler.dump_traceback(all_threads=True)
        os._exit(1)

    timer = threading.Timer(timeout_s, fail)
    timer.daemon = True
    timer.start()
    return timer


def _resign_rate(path: Path, pki_dir: Path, sample: int) -> float:
    """Packages re-signed per second (RSA-2048 dev keys, as `axis replay play --resign` uses by default)."""
    packages = []
    for record in Recording(path).records():
        if is_package(record):
            packages.append(record)
            if len(packages) >= sample:
                break
    pki = DevPki(pki_dir)
    pki.init()
    signers = {}
    for sender in sorted({r.header("sender") or "" for r in packages}):
        key, cert = pki.issue(sender, sender)
        signers[sender] = Signer(SigningIdentity.from_files(key, cert))
    resigner = Resigner(signers)
    began = time.perf_counter()
    for record in packages:
        resigner.resign(record)
    return len(packages) / (time.perf_counter() - began)


async def _play(path: Path, folder: Path) -> tuple[int, float, float]:
    """(records, seconds publishing, seconds of the whole play including the check of the file)."""
    async with EmbeddedBroker(log_path=folder / "tansu.log") as broker:
        await ensure_topics(broker.bootstrap, exchange_topics((8, 1)))
        began = time.perf_counter()
        report = await play(Settings(data_dir=folder, kafka_bootstrap=broker.bootstrap), path, speed=None)
        return report.records, report.seconds, time.perf_counter() - began


def main() -> None:
    global _stage
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--agencies", type=int, default=200)
    parser.add_argument("--sizes", default="small")
    parser.add_argument("--resign-sample", type=int, default=2000, help="packages to re-sign for the resign figure")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args()
    timer = _watchdog(args.timeout)
    with tempfile.TemporaryDirectory(prefix="axis-replay-bench-") as tmp:
        folder = Path(tmp)
        path = folder / "synthetic.jsonl.gz"
        _stage = f"synthesising {args.documents} documents"
        began = time.perf_counter()
        header = synthesise(
            path,
            agencies=args.agencies,
            documents=args.documents,
            seed=1,
            sizes=args.sizes,
            days=max(1, args.documents // 20_000),
        )
        synth_s = time.perf_counter() - began
        size = path.stat().st_size
        print(
            f"synth: {args.documents} documents, {header.count} records, {size / 1e6:.1f} MB in {synth_s:.1f} s "
            f"({header.count / synth_s:.0f} records/s)"
        )
        _stage = f"playing {header.count} records at --speed max"
        records, play_s, whole_s = asyncio.run(_play(path, folder))
        print(
            f"play --speed max: {records} records published in {play_s:.1f} s: {records / play_s:.0f} records/s; "
            f"{whole_s:.1f} s with the check of the whole file first ({records / whole_s:.0f} records/s)"
        )
        _stage = "re-signing packages"
        resign_per_s = _resign_rate(path, folder / "pki", args.resign_sample)
        print(f"resign: {resign_per_s:.0f} packages/s (RSA-2048, one core)")
    timer.cancel()
    if args.json:
        print(
            json.dumps(
                {
                    "documents": args.documents,
                    "records": records,
                    "seconds": round(play_s, 2),
                    "records_per_s": round(records / play_s),
                    "play_with_check_seconds": round(whole_s, 2),
                    "synth_seconds": round(synth_s, 2),
                    "synth_bytes": size,
                    "resign_packages_per_s": round(resign_per_s),
                }
            )
        )


if __name__ == "__main__":
    main()
