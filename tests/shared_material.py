"""Where the project's shared material is: `../shared` beside the checkout (EDXML samples, the SDK's wire).

CI lays a copy of shared/ beside the clone it tests. A clone of a local checkout (as `check-fresh` makes)
finds it beside the checkout it was cloned from; `AXIS_SHARED_DIR` names it anywhere else. Missing material
is an error at collection, never an empty, silently skipped test set.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def _origin_checkout() -> Path | None:
    try:
        url = subprocess.run(
            ["git", "-C", str(PROJECT), "config", "--get", "remote.origin.url"],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout.strip()
    except OSError:
        return None
    return Path(url) if url and Path(url).is_dir() else None


def shared_dir() -> Path:
    """The shared folder, or a RuntimeError that says where it was looked for."""
    candidates = [Path(os.environ["AXIS_SHARED_DIR"])] if os.environ.get("AXIS_SHARED_DIR") else []
    candidates.append(PROJECT.parent / "shared")
    origin = _origin_checkout()
    if origin is not None:
        candidates.append(origin.resolve().parent / "shared")
    for candidate in candidates:
        if (candidate / "edxml-samples").is_dir():
            return candidate
    raise RuntimeError(f"shared material not found in {', '.join(map(str, candidates))}; set AXIS_SHARED_DIR")


SHARED = shared_dir()
SDK_SAMPLES = SHARED / "edxml-samples" / "vdxp-sdk"
SDK_WIRE = SHARED / "vdxp-sdk-wire" / "requests.jsonl"
