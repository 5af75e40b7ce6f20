"""Live per-agency statistics: a faust-streaming app over `edx.events`, checked against the ledger.

`StatsService` is `axis stats`: per agency, documents sent and received, deliveries, refusals, median and
p90 time to 01 and to 03 over tumbling minutes, hours and the running local day, and overdue receipts from
the ledger; served as Prometheus metrics, `/health` and JSON for the console (docs/STATS.md). `axis up` runs
it as a child (`axis.children.AxisChild`). `ledger_figures` computes the same figures in SQL from the ledger alone.

Modules: `_sketch` (quantile sketch), `_figures` (measures, windows), `_tallies` (fact -> tallies),
`_ledger_sql` (the ledger's facts and figures), `_engine` (the faust app of one broker epoch), `_service`
(epochs, rebuild, overdue, health), `_http` (metrics, health, JSON).
"""

from ._figures import QUANTILES, WINDOWS, Figures, Window, window_named
from ._ledger_sql import ledger_facts, ledger_figures
from ._service import StatsService
from ._sketch import ALPHA, FLOOR_SECONDS, Sketch
from ._tallies import Tally, tallies_of

__all__ = [
    "ALPHA",
    "FLOOR_SECONDS",
    "Figures",
    "QUANTILES",
    "Sketch",
    "StatsService",
    "Tally",
    "WINDOWS",
    "Window",
    "ledger_facts",
    "ledger_figures",
    "tallies_of",
    "window_named",
]
