"""Who may do what on a secured Kafka cluster: the exchange's ACLs, derived from the agency directory.

Principals (the SASL user name; with mutual TLS, what `ssl.principal.mapping.rules` makes of the
certificate's CN): `User:axis-router` (every router replica), `User:axis-stats` (the stats app) and
`User:agent.<organ-id>` (one per agency's agent). Operators run `axis kafka acls --apply` and `axis replay`
as a broker super user (`super.users`), which no ACL names. The console never connects to Kafka.

- An agency writes only `edx.outbound` and reads only its inbox `edx.inbox.<organ-id>` and `edx.directory`
  (and `edx.epoch`, which every component reads); its consumer group is `agent.<organ-id>.<epoch>`.
- The routers read `edx.outbound`, write every inbox (PREFIXED `edx.inbox.`: agencies added later are
  covered), `edx.directory`, `edx.events`, `edx.dead-letter` and `edx.outbound` (an operator's requeue);
  their group is `axis-router.<epoch>`.
- The stats app reads `edx.events`; its faust app `axis-stats.<epoch>` owns its group and its internal
  topics (`axis-stats.<epoch>-by-agency`, the tables' changelogs), all under the PREFIXED `axis-stats.`.
- Every component runs an `EpochWatch`, which checks that its topics exist in the all-topics metadata
  (Kafka lists only topics the principal may DESCRIBE) and creates the missing ones and the epoch record
  on a new cluster. Each principal may therefore DESCRIBE and CREATE exactly the topics its own watch
  names (literal names; an agent: the exchange topics and its own inbox) and write `edx.epoch`, so the
  components can start in any order. None may DELETE a topic or ALTER anything.

Groups are PREFIXED because their names carry the broker epoch; the prefix ends with a dot, so
`agent.000.00.00.G2.` does not match `agent.000.00.00.G22.…`. Organ ids of other shapes can still nest
(`vxp.saas` and `vxp.saas.03`): `nested_organ_ids` finds them, and `axis kafka acls` warns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from axis import wire
from axis.transport import AclBinding, AclOperation, AclPattern, AclResource, exchange_topics

__all__ = [
    "ROUTER_USER",
    "STATS_USER",
    "AclPlan",
    "acl_plan",
    "agency_acls",
    "agent_user",
    "nested_organ_ids",
    "router_acls",
    "stats_acls",
]

ROUTER_USER = "axis-router"
STATS_USER = "axis-stats"
_ROUTER_GROUP = "axis-router."  # Router(group_id="axis-router"), qualified by the epoch (axis.transport.Consumer)
_STATS_APP = "axis-stats."  # the faust app id axis-stats.<epoch> (axis.stats): its group and topic prefix


def agent_user(organ_id: str) -> str:
    """The Kafka user (SASL name, or mapped certificate CN) of an agency's agent."""
    return f"agent.{organ_id}"


def _allow(user: str, resource: AclResource, name: str, *operations: AclOperation,
           pattern: AclPattern = "LITERAL") -> list[AclBinding]:
    return [AclBinding(f"User:{user}", resource, pattern, name, op) for op in operations]


def _epoch_watch(user: str, topics: Iterable[str]) -> list[AclBinding]:
    """What an EpochWatch over `topics` needs: see them, create them on a new cluster, read and write the epoch."""
    bindings = [b for topic in {*topics, wire.EPOCH} for b in _allow(user, "TOPIC", topic, "DESCRIBE", "CREATE")]
    return bindings + _allow(user, "TOPIC", wire.EPOCH, "READ", "WRITE")


def agency_acls(organ_id: str) -> list[AclBinding]:
    """An agency's agent: write `edx.outbound`, read its inbox and the directory, its own consumer groups."""
    user = agent_user(organ_id)
    return [
        *_epoch_watch(user, exchange_topics((1, 1), [organ_id])),  # the topics of the agent's own watch
        *_allow(user, "TOPIC", wire.OUTBOUND, "WRITE"),
        *_allow(user, "TOPIC", wire.inbox_topic(organ_id), "READ"),
        *_allow(user, "TOPIC", wire.DIRECTORY, "READ"),
        *_allow(user, "GROUP", f"{user}.", "READ", pattern="PREFIXED"),
    ]


def router_acls() -> list[AclBinding]:
    """Every router replica (one principal): route, record, publish the directory, facts and dead letters."""
    return [
        *_epoch_watch(ROUTER_USER, exchange_topics((1, 1))),
        *_allow(ROUTER_USER, "TOPIC", wire.OUTBOUND, "READ", "WRITE"),
        *_allow(ROUTER_USER, "TOPIC", wire.INBOX_PREFIX, "WRITE", "CREATE", pattern="PREFIXED"),
        *[b for topic in (wire.DIRECTORY, wire.EVENTS, wire.DEAD_LETTER)
          for b in _allow(ROUTER_USER, "TOPIC", topic, "WRITE")],
        *_allow(ROUTER_USER, "GROUP", _ROUTER_GROUP, "READ", pattern="PREFIXED"),
    ]


def stats_acls() -> list[AclBinding]:
    """The stats app: read `edx.events`; everything under its faust app id (internal topics, group)."""
    return [
        *_epoch_watch(STATS_USER, (wire.EVENTS,)),
        *_allow(STATS_USER, "TOPIC", wire.EVENTS, "READ"),
        *_allow(STATS_USER, "TOPIC", _STATS_APP, "ALL", pattern="PREFIXED"),
        *_allow(STATS_USER, "GROUP", _STATS_APP, "READ", pattern="PREFIXED"),
    ]


@dataclass(frozen=True, slots=True)
class AclPlan:
    """The ACLs the cluster should hold (`add`), and those of disabled agencies to take away (`remove`)."""

    add: tuple[AclBinding, ...]
    remove: tuple[AclBinding, ...]


def acl_plan(active: Iterable[str], disabled: Iterable[str] = ()) -> AclPlan:
    """The exchange's ACLs for the directory's active and disabled organ ids; sorted, without repeats."""
    add = {*router_acls(), *stats_acls(), *(b for organ_id in active for b in agency_acls(organ_id))}
    remove = {b for organ_id in disabled for b in agency_acls(organ_id)} - add
    return AclPlan(tuple(sorted(add)), tuple(sorted(remove)))


def nested_organ_ids(organ_ids: Iterable[str]) -> list[tuple[str, str]]:
    """(a, b) pairs where b starts with `a.`: a's group prefix `agent.a.` would also match b's groups."""
    ids = set(organ_ids)
    pairs: set[tuple[str, str]] = set()
    for organ_id in ids:
        parts = organ_id.split(".")
        pairs.update((".".join(parts[:n]), organ_id) for n in range(1, len(parts)) if ".".join(parts[:n]) in ids)
    return sorted(pairs)
