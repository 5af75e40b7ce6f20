"""Native-library stress: cold processes whose threads validate, sign, verify and parse at once.

Each run is a fresh interpreter (`python bench/native_stress.py --child DIR ...`) that loads keys and
packages, then forks `--forks` trials: each fork is as cold as a new agent process (no thread has
validated in it yet: every thread's first validation builds its `XMLSchema` inside the trial). The threads
start together on a `threading.Barrier`. Trials alternate between:

- a burst: `--burst` threads that all call `edxml.validate(pkg, profile="strict")` from the start
  (the first schema build, where libxml2 2.14's unlocked `xmlSchemaInitTypes` races), 0.05 s;
- a mix: `--threads` threads in `--roles`, for `--duration` s:
  - validate: `edxml.validate(pkg, profile="strict")` of a valid package (must be ok, with a package);
  - invalid:  strict validation of two invalid packages, each failing the XSD on its own element: its
              errors must name that element and never the other one (the one `error_log` of a shared
              `XMLSchema` hands one thread's errors to another, or clears them: then `report.ok`);
  - sign:     `signing.Signer.sign` (python-xmlsec), RSA and ECDSA, every other one verified;
  - verify:   `signing.Verifier.verify` of a package signed beforehand;
  - parse:    `edxml.parse_package`, strict and lenient in turn.

A trial fails on any unexpected exception or wrong answer, or if it dies (signal) or hangs; a run
fails if any of its trials does. `--forks 0` makes each fresh interpreter the one (mixed) trial.

    .venv/bin/python bench/native_stress.py [--runs 20] [--forks 20] [--json] [--verbose]
        [--threads 8] [--roles ...] [--burst 4] [--duration 0.2] [--switch 5e-3] [--jobs CORES] [--prewarm]

Defaults take about 35 s on 2 cores. Exit status: 0 if no run failed, else 1. Before `edxml._validate`
built its schema at import and gave each thread its own (the fix), 20 of 20 runs failed: every run read
another validation's errors from the one shared `error_log`, and about half hit libxml2's unlocked
built-in type initialisation (`XMLSchemaParseError` for the rest of the process, or a crash).
"""

from __future__ import annotations

import argparse
import collections
import faulthandler
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SENDER, RECIPIENT = "000.00.00.G22", "000.00.00.H41"
ROLES = ("validate", "sign", "invalid", "verify", "validate", "parse", "sign", "invalid")
BURST_SECONDS = 0.05
BAD_MARKERS = ("Subjekt", "Zusatz")  # each invalid package fails the XSD on one of these elements


# -- material (parent, once) -----------------------------------------------------------------------------


def make_material(directory: Path) -> None:
    """Dev PKI (ECDSA CA; RSA and ECDSA agencies) and packages built with the project's builders."""
    sys.path.insert(0, str(ROOT))
    import edxml
    from signing import DevPki, Signer, SigningIdentity

    pki = DevPki(directory / "pki")
    pki.init(algorithm="ec")
    pki.issue(SENDER, "Văn phòng Chính phủ", "rsa")
    pki.issue(RECIPIENT, "UBND Tỉnh Nghệ An", "ec")
    doc = edxml.build_document(
        sender=edxml.Organization(SENDER, "Văn phòng Chính phủ", organ_add="Hà Nội"),
        recipients=[edxml.Organization(RECIPIENT, "UBND Tỉnh Nghệ An", organ_add="Vinh")],
        code=edxml.Code("7816", "VPCP-TTĐT"),
        subject="Về việc triển khai trục liên thông văn bản",
        attachments=[edxml.Attachment("cid:1", "vanban.pdf", "application/pdf", data=b"%PDF-1.4 " * 200)],
    )
    data = edxml.serialize(doc)
    assert b"<Subject>" in data
    bad_subject = data.replace(b"<Subject>", b"<Subjekt>").replace(b"</Subject>", b"</Subjekt>")
    bad_extra = data.replace(b"</Subject>", b"</Subject><Zusatz>x</Zusatz>")
    signed = Signer(SigningIdentity.from_files(pki.key_path(SENDER), pki.cert_path(SENDER))).sign(data)
    for name, body in (("doc.xml", data), ("bad0.xml", bad_subject), ("bad1.xml", bad_extra), ("signed.xml", signed)):
        (directory / name).write_bytes(body)


# -- child -----------------------------------------------------------------------------------------------


def _key(role: str, exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    text = re.sub(r"line \d+", "line N", text)[:140]
    return f"{role}: {type(exc).__name__}: {text}"


def child(directory: Path, threads: int, duration: float, switch: float, roles: tuple[str, ...],
          prewarm: bool, forks: int, burst: int) -> int:
    """One fresh interpreter: load the material, then run the trial here (forks=0) or in `forks` forked
    processes, each as cold as this one (no worker thread has validated yet).

    With `burst`, forked trials alternate: a burst (`burst` threads, all strict validation: the first
    schema build, where the libxml2 race is), then the mix (`threads` threads in `roles`)."""
    faulthandler.enable()  # a native crash prints every thread's Python stack on stderr
    sys.path.insert(0, str(ROOT))
    sys.setswitchinterval(switch)
    import edxml
    from signing import Signer, SigningIdentity, TrustStore, Verifier

    pki = directory / "pki"
    m = {name: (directory / f"{name}.xml").read_bytes() for name in ("doc", "signed", "bad0", "bad1")}
    signers = [Signer(SigningIdentity.from_files(pki / f"{o}-key.pem", pki / f"{o}.pem")) for o in (SENDER, RECIPIENT)]
    verifier = Verifier(TrustStore.from_files([pki / "ca.pem"], [pki / "crl.pem"]))
    if prewarm:  # first-use costs of the Python path (resources, regexes), without building the schema
        from importlib.resources import files

        files("edxml").joinpath("edxml.xsd").read_bytes()
        edxml.parse_package(m["doc"], profile="lenient")

    hang_after = 5 + 5 * duration
    specs = [(threads, roles, duration)]
    if burst > 0 and forks > 0:  # the race is at the first schema build: a burst needs no long run
        specs.insert(0, (burst, ("validate",), min(duration, BURST_SECONDS)))

    def one(k: int = 0) -> dict[str, dict[str, int]]:
        n, what, seconds = specs[k % len(specs)]
        return trial(edxml, m, signers, verifier, n, seconds, what)

    if forks <= 0:
        faulthandler.dump_traceback_later(hang_after, exit=True)  # a hang prints the stacks too
        result = one()
        faulthandler.cancel_dump_traceback_later()
        result["trials"] = {"n": 1, **{c: 1 for c in {classify(what) for what in result["errors"]}}}
        print(json.dumps(result), flush=True)
        return 0
    errors: collections.Counter[str] = collections.Counter()
    ops: collections.Counter[str] = collections.Counter()
    trials: collections.Counter[str] = collections.Counter(n=forks)  # cold trials that failed, by class
    for k in range(forks):
        read_end, write_end = os.pipe()
        pid = os.fork()  # single-threaded here: the forked process is a clean, cold copy
        if pid == 0:
            os.close(read_end)
            try:
                out = json.dumps(one(k)).encode()
            except BaseException as exc:  # noqa: BLE001
                out = json.dumps({"errors": {_key("trial", exc): 1}, "ops": {}}).encode()
            os.write(write_end, out)
            os._exit(0)
        os.close(write_end)
        deadline, hung = time.monotonic() + hang_after, False
        while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:  # the trial's JSON fits in the pipe's buffer
            if time.monotonic() > deadline and not hung:
                os.kill(pid, signal.SIGABRT)  # faulthandler prints every thread's stack, then it dies
                hung = True
            time.sleep(0.005)
        status = done[1]
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
        if hung:
            result = {"errors": {f"hang: no end after {hang_after:.0f} s": 1}, "ops": {}}
        elif os.WIFSIGNALED(status):
            result = {"errors": {f"crash: {signal.Signals(os.WTERMSIG(status)).name}": 1}, "ops": {}}
        elif os.WEXITSTATUS(status) != 0 or not data:
            result = {"errors": {f"crash: exit {os.WEXITSTATUS(status)}": 1}, "ops": {}}
        else:
            result = json.loads(data)
        errors.update(result["errors"])
        ops.update(result["ops"])
        trials.update({classify(what) for what in result["errors"]})
    print(json.dumps({"errors": dict(errors), "ops": dict(ops), "trials": dict(trials)}), flush=True)
    return 0


def trial(edxml: Any, m: dict[str, bytes], signers: list[Any], verifier: Any, threads: int, duration: float,
          roles: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """`threads` threads start together and work for `duration` s; unexpected outcomes are counted."""
    errors: collections.Counter[str] = collections.Counter()
    ops: collections.Counter[str] = collections.Counter()
    barrier = threading.Barrier(threads)
    doc, signed, bad = m["doc"], m["signed"], (m["bad0"], m["bad1"])

    def validate(i: int) -> None:
        report = edxml.validate(doc, profile="strict")
        if not report.ok or report.package is None:
            raise AssertionError(f"valid package rejected: {[str(e) for e in report.errors[:2]]}")

    def invalid(i: int) -> None:
        mine, other = BAD_MARKERS[i % 2], BAD_MARKERS[1 - i % 2]
        report = edxml.validate(bad[i % 2], profile="strict")
        messages = [e.message for e in report.errors]
        if report.ok:  # validate() returned False but the shared error_log was emptied by another thread
            raise AssertionError("XSD-invalid package reported ok (shared error_log cleared by another thread)")
        if not messages:
            raise AssertionError("invalid package reported without errors (shared error_log)")
        if any(other in msg for msg in messages) or not any(mine in msg for msg in messages):
            raise AssertionError("errors of another validation reported (shared error_log)")

    def sign(i: int) -> None:
        out = signers[i % 2].sign(doc)
        if i % 2 == 0:
            who = verifier.verify(out, expected_organ_id=SENDER)
            if who.organ_id != SENDER:
                raise AssertionError(f"signature of {SENDER} verified as {who.organ_id}")

    def verify(i: int) -> None:
        if verifier.verify(signed).organ_id != SENDER:
            raise AssertionError("wrong signer")

    def parse(i: int) -> None:
        if edxml.parse_package(doc, profile="lenient" if i % 2 else "strict").sender != SENDER:
            raise AssertionError("wrong sender")

    work = {"validate": validate, "invalid": invalid, "sign": sign, "verify": verify, "parse": parse}

    def run(role: str) -> None:
        op = work[role]
        barrier.wait()
        deadline = time.monotonic() + duration
        i = 0
        while time.monotonic() < deadline:
            try:
                op(i)
            except Exception as exc:  # noqa: BLE001 -- everything unexpected is counted
                errors[_key(role, exc)] += 1
            ops[role] += 1
            i += 1

    pool = [threading.Thread(target=run, args=(roles[n % len(roles)],)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return {"errors": dict(errors), "ops": dict(ops)}


# -- parent ----------------------------------------------------------------------------------------------


def _crash_site(stderr: str) -> list[str]:
    """The innermost frames of the thread that crashed (faulthandler's 'Current thread' block)."""
    lines = stderr.splitlines()
    first = next((i for i, line in enumerate(lines) if line.startswith("Fatal Python error")), None)
    start = next((i for i, line in enumerate(lines) if line.startswith("Current thread")), None)
    if start is None:
        return lines[-3:]
    head = [lines[first].strip()] if first is not None else []
    return head + [line.strip() for line in lines[start + 1:start + 4]]


def one_run(directory: Path, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(directory), "--threads", str(args.threads),
           "--duration", str(args.duration), "--switch", str(args.switch), "--roles", args.roles,
           "--forks", str(args.forks), "--burst", str(args.burst), *(["--prewarm"] if args.prewarm else [])]
    try:
        timeout = 60 + (5 + 6 * args.duration) * max(1, args.forks)
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"errors": {"hang: child timed out": 1}, "ops": {}, "trials": {"n": max(1, args.forks), "crash": 1}}
    if proc.returncode != 0:
        what = (f"crash: {signal.Signals(-proc.returncode).name}" if proc.returncode < 0
                else "hang: faulthandler timeout" if "Timeout (" in proc.stderr
                else f"crash: exit {proc.returncode}")
        return {"errors": {what: 1}, "ops": {}, "stderr": _crash_site(proc.stderr),
                "trials": {"n": max(1, args.forks), "crash": 1}}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if any(classify(what) == "crash" for what in result["errors"]):
        result["stderr"] = _crash_site(proc.stderr)
    return result


def classify(what: str) -> str:
    """The failure class of an error key: the schema race, the shared error log, a crash, or other."""
    if "XMLSchemaParseError" in what:
        return "schema_parse_error"
    if "error_log" in what:
        return "error_log_mixup"
    if what.startswith(("crash:", "hang:")):
        return "crash"
    return "other"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="fresh child interpreters (default 20)")
    parser.add_argument("--forks", type=int, default=20,
                        help="cold trials per run: the fresh child forks this many times once loaded, each fork as "
                             "cold as a new process (default 20; 0: the child itself is the one trial)")
    parser.add_argument("--threads", type=int, default=8, help="threads of a mixed trial (default 8)")
    parser.add_argument("--roles", default=",".join(ROLES),
                        help=f"roles of a mixed trial's threads, in turn (default {','.join(ROLES)}); "
                             "of validate, invalid, sign, verify, parse")
    parser.add_argument("--burst", type=int, default=4,
                        help="every other forked trial is a burst: this many threads that all validate strictly "
                             f"from the start, for {BURST_SECONDS} s (default 4; 0: mixed trials only)")
    parser.add_argument("--duration", type=float, default=0.2, help="seconds of work per trial (default 0.2)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="runs at once (default: cores)")
    parser.add_argument("--switch", type=float, default=5e-3,
                        help="sys.setswitchinterval in the child (default 5e-3, Python's own)")
    parser.add_argument("--prewarm", action="store_true",
                        help="run the Python path once (lenient parse) before the trials")
    parser.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    parser.add_argument("--verbose", action="store_true", help="print each failed run's errors")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        return child(args.child, args.threads, args.duration, args.switch, tuple(args.roles.split(",")),
                     args.prewarm, args.forks, args.burst)
    unknown = set(args.roles.split(",")) - {"validate", "invalid", "sign", "verify", "parse"}
    if unknown:
        parser.error(f"unknown roles: {', '.join(sorted(unknown))}")

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="native-stress-") as tmp:
        directory = Path(tmp)
        make_material(directory)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            results = list(pool.map(lambda _: one_run(directory, args), range(args.runs)))
    failed = 0
    runs_with: collections.Counter[str] = collections.Counter()
    classes: collections.Counter[str] = collections.Counter()
    trials: collections.Counter[str] = collections.Counter()
    for n, result in enumerate(results):
        trials.update(result.get("trials") or {"n": 1, **{classify(what): 1 for what in result["errors"]}})
        errs = result["errors"]
        assert isinstance(errs, dict)
        if errs:
            failed += 1
            runs_with.update(errs.keys())
            classes.update({classify(what) for what in errs})
            if args.verbose:
                print(f"run {n}: {json.dumps(errs, ensure_ascii=False)} {result.get('stderr', '')}")
    elapsed = time.monotonic() - started
    print(f"native_stress: {failed} of {args.runs} runs failed (forks={args.forks}, burst={args.burst}, "
          f"threads={args.threads}, duration={args.duration}s, switch={args.switch}, {elapsed:.1f}s)")
    print("  runs failed by class: " + (", ".join(f"{k} {v}" for k, v in sorted(classes.items())) or "none"))
    n_trials = trials.pop("n", 0)
    if args.forks > 0:
        print(f"  of {n_trials} cold trials, failed by class: "
              + (", ".join(f"{k} {v}" for k, v in sorted(trials.items())) or "none"))
    for what, count in runs_with.most_common():
        print(f"  {count:4d} runs: {what}")
    if args.json:
        print(json.dumps({"runs": args.runs, "failed": failed, "errors": dict(runs_with), "classes": dict(classes),
                          "trials": n_trials, "trial_classes": dict(trials),
                          "seconds": round(elapsed, 1)}, ensure_ascii=False))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
