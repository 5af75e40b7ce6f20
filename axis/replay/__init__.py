"""Replay: record what travelled on the exchange's topics, play it into another exchange, synthesise
national-style traffic, and compare what two routers decided (docs/REPLAY.md).

- `record_topics` writes every record of some topics to a recording file (`_format`: gzip-compressed
  JSON lines with a header and checksums); `Recording.open` reads one back and refuses a bad file.
- `play` publishes a recording into a running exchange in file order, at the recorded pace or faster,
  signing the packages again for it (`resign=True`) or saying why its router will refuse them.
- `synthesise` writes a synthetic recording; the same arguments give the same bytes.
- `read_outcome` turns a ledger into an `Outcome` (stable JSON); `diff_outcomes` lists what differs;
  `wait_settled` waits until a router has handled what was played.
"""

from ._diff import diff_outcomes
from ._errors import ExchangeNotReady, OutcomeInvalid, RecordingInvalid, ReplayError, TopicNotFound
from ._format import RecordedRecord, Recording, RecordingHeader, RecordingWriter
from ._outcome import Outcome, read_outcome, wait_settled
from ._play import PlayReport, parse_speed, play
from ._population import PRESETS, SizeProfile
from ._progress import Progress, SilentProgress, TerminalProgress
from ._record import Bound, record_topics
from ._synth import synthesise

__all__ = [
    "PRESETS",
    "Bound",
    "ExchangeNotReady",
    "Outcome",
    "OutcomeInvalid",
    "PlayReport",
    "Progress",
    "RecordedRecord",
    "Recording",
    "RecordingHeader",
    "RecordingInvalid",
    "RecordingWriter",
    "ReplayError",
    "SilentProgress",
    "SizeProfile",
    "TerminalProgress",
    "TopicNotFound",
    "diff_outcomes",
    "parse_speed",
    "play",
    "read_outcome",
    "record_topics",
    "synthesise",
    "wait_settled",
]
