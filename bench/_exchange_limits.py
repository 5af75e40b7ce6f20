"""The two ceilings the exchange is measured against: the signature work alone, and the transport alone.

Both take the bench's traffic (`TrafficMix`: 10 KB documents, a 100 KB attachment on a share of them, one or
three recipients) and answer in documents per second, so `exchange_bench` can say how close the exchange runs:

- raw crypto: what a document costs in signatures, with the project's `signing` module, one process per core:
  the document signed once, verified at the router and at each recipient; each recipient's 01 signed, verified
  at the router and at the sender (2 + 4r operations for r recipients; six for one);
- raw transport: aiokafka producing and consuming the records a document makes on the wire, with the same
  sizes and no processing: the package to `edx.outbound`, to each recipient's inbox, each 01 to `edx.outbound`
  and to the sender's inbox (1 + 3r records).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from signing import DevPki, Signer, SigningIdentity, TrustStore, Verifier
from signing_bench import SENDER, build_package

__all__ = ["TrafficMix", "raw_crypto_docs_per_s", "raw_transport_docs_per_s"]

STATUS_BYTES = 2 * 1024  # a signed 01 is about 2 KB on the wire


@dataclass(frozen=True, slots=True)
class TrafficMix:
    """The bench's documents: every `large_every`-th carries a 100 KB attachment; recipients cycle over
    `recipients` (1 and 3 by default)."""

    document_bytes: int = 10 * 1024
    attachment_bytes: int = 100 * 1024
    large_every: int = 5
    recipients: tuple[int, ...] = (1, 3)

    def large(self, n: int) -> bool:
        return n % self.large_every == self.large_every - 1

    def recipient_count(self, n: int) -> int:
        return self.recipients[n % len(self.recipients)]

    def package_bytes(self, n: int) -> int:
        return self.document_bytes + (self.attachment_bytes * 4 // 3 if self.large(n) else 0)  # base64

    @property
    def cycle(self) -> int:
        """Documents after which the mix repeats."""
        return self.large_every * len(self.recipients)


def _crypto_worker(pki_dir: str, mix: TrafficMix, seconds: float) -> tuple[int, float]:
    """One core's share: whole documents' signature work for `seconds`; (documents, seconds taken)."""
    pki = DevPki(pki_dir)
    # One agency's key signs both: the 01's stand-in is a small package from the same organ (a recipient's
    # key is of the same kind and size, so it costs the same).
    signer = Signer(SigningIdentity.from_files(pki.key_path(SENDER), pki.cert_path(SENDER)))
    verifier = Verifier(TrustStore.from_files([pki.ca_path], [pki.crl_path]))
    packages = {size: build_package(size) for size in {mix.package_bytes(n) for n in range(mix.cycle)}}
    status = build_package(STATUS_BYTES)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        signed = signer.sign(packages[mix.package_bytes(done)])
        for _ in range(1 + mix.recipient_count(done)):  # the router, then each recipient
            verifier.verify(signed)
        for _ in range(mix.recipient_count(done)):
            answer = signer.sign(status)
            verifier.verify(answer)  # the router
            verifier.verify(answer)  # the sender
        done += 1
    return done, time.perf_counter() - start


def raw_crypto_docs_per_s(mix: TrafficMix, seconds: float, workers: int | None = None) -> float:
    """Documents/s of signature work alone, one process per core, keys as the exchange issues them."""
    workers = workers or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="axis-crypto-") as tmp:
        pki = DevPki(Path(tmp))
        pki.init()
        pki.issue(SENDER, "Văn phòng Chính phủ")
        # spawned, not forked: a fork of a process whose threads already used libxml2 and xmlsec can die
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(_crypto_worker, [tmp] * workers, [mix] * workers, [seconds] * workers))
    return round(sum(done / taken for done, taken in results), 1)


def _records(mix: TrafficMix, n: int) -> list[tuple[str, bytes]]:
    """The (topic, value) records document `n` makes on the wire."""
    package, status, r = os.urandom(mix.package_bytes(n)), os.urandom(STATUS_BYTES), mix.recipient_count(n)
    return ([("outbound", package)] + [("inbox", package)] * r
            + [("outbound", status)] * r + [("inbox", status)] * r)


async def raw_transport_docs_per_s(bootstrap: str, mix: TrafficMix, documents: int, timeout_s: float = 300) -> float:
    """Documents/s of the broker alone: produce every record of `documents` documents (acks=all, as the
    exchange does) while a consumer reads them back; from the first send to the last record read."""
    run = uuid.uuid4().hex[:8]
    topics = {name: f"bench.raw.{name}.{run}" for name in ("outbound", "inbox")}
    plan = [record for n in range(documents) for record in _records(mix, n % mix.cycle)]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                                max_request_size=4 * 1024 * 1024, enable_idempotence=False)
    consumer = AIOKafkaConsumer(*topics.values(), bootstrap_servers=bootstrap, group_id=f"bench-raw-{run}",
                                auto_offset_reset="earliest", fetch_max_bytes=16 * 1024 * 1024,
                                max_partition_fetch_bytes=8 * 1024 * 1024)
    await producer.start()
    try:
        for topic in topics.values():  # create the topics before the consumer subscribes
            await producer.send_and_wait(topic, b"warm-up")
        await consumer.start()
        try:
            warm = 0
            while warm < len(topics):
                warm += sum(len(batch) for batch in (await consumer.getmany(timeout_ms=1000)).values())
            start = time.perf_counter()
            sending = asyncio.ensure_future(asyncio.gather(*[
                await producer.send(topics[kind], value) for kind, value in plan]))
            seen, deadline = 0, time.monotonic() + timeout_s
            while seen < len(plan):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"raw transport: {seen} of {len(plan)} records read after {timeout_s:.0f} s")
                seen += sum(len(batch) for batch in (await consumer.getmany(timeout_ms=500)).values())
            await sending
            return round(documents / (time.perf_counter() - start), 1)
        finally:
            await consumer.stop()
    finally:
        await producer.stop()
