"""Kafka ACL bindings, and adding or removing them on a cluster through the CreateAcls/DeleteAcls APIs.

aiokafka 0.14 has the protocol messages but no admin call for them, so `apply_acls` sends them on a plain
`AIOKafkaClient` (one binding per request, as aiokafka's request builder allows; sent concurrently).
Both requests are idempotent on Kafka: adding an existing ACL or removing an absent one changes nothing.

Only Apache Kafka with an authorizer (`authorizer.class.name`, KRaft: `StandardAuthorizer`) keeps ACLs. The
embedded Tansu broker advertises the APIs but closes the connection on them; that, like a cluster without
an authorizer (SECURITY_DISABLED), raises a `TransportError` that says so, never a silent success.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

from aiokafka import errors as kerr
from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.admin import CreateAclsRequest, DeleteAclsRequest

from axis.errors import TransportError

from ._errors import map_kafka_errors
from ._security import PLAINTEXT, KafkaSecurity, map_connect_errors

AclResource = Literal["TOPIC", "GROUP"]
AclPattern = Literal["LITERAL", "PREFIXED"]
AclOperation = Literal["ALL", "READ", "WRITE", "CREATE", "DESCRIBE"]

# Kafka's wire codes (org.apache.kafka.common.acl / resource enums).
_RESOURCE_CODES = {"TOPIC": 2, "GROUP": 3}
_PATTERN_CODES = {"LITERAL": 3, "PREFIXED": 4}
_OPERATION_CODES = {"ALL": 2, "READ": 3, "WRITE": 4, "CREATE": 5, "DESCRIBE": 8}
_ALLOW = 3
_CONCURRENT_REQUESTS = 64


@dataclass(frozen=True, slots=True, order=True)
class AclBinding:
    """One ALLOW rule: `principal` may do `operation` on the topics or groups that `resource_name` matches.

    LITERAL matches the name exactly, PREFIXED every name that starts with it. Kafka denies what no rule
    allows, and READ or WRITE imply DESCRIBE.
    """

    principal: str  # "User:<name>": the SASL user name, or the name a TLS principal mapping rule gives
    resource_type: AclResource
    pattern_type: AclPattern
    resource_name: str
    operation: AclOperation
    host: str = "*"

    def __str__(self) -> str:
        return f"{self.principal} {self.operation} {self.resource_type} {self.resource_name} ({self.pattern_type})"

    def as_dict(self) -> dict[str, str]:
        return {"principal": self.principal, "resource_type": self.resource_type, "pattern_type": self.pattern_type,
                "resource_name": self.resource_name, "operation": self.operation, "host": self.host,
                "permission": "ALLOW"}

    def wire_fields(self) -> tuple[int, str, int, str, str, int, int]:
        """The fields of a CreateAcls creation or an exact DeleteAcls filter, in Kafka's codes."""
        return (_RESOURCE_CODES[self.resource_type], self.resource_name, _PATTERN_CODES[self.pattern_type],
                self.principal, self.host, _OPERATION_CODES[self.operation], _ALLOW)


def _unsupported(bootstrap: str, exc: BaseException) -> TransportError:
    return TransportError(
        f"the broker at {bootstrap} dropped an ACL request ({exc!r}): it does not support Kafka ACLs (the embedded "
        "Tansu broker has none; apply them to Apache Kafka with an authorizer), or the connection broke"
    )


_AclRequest: TypeAlias = CreateAclsRequest | DeleteAclsRequest


async def _send(client: AIOKafkaClient, bootstrap: str, request: _AclRequest) -> list[int]:
    """The error code of each binding of the request (0: done)."""
    try:
        response = await client.send(client.get_random_node(), request)
    except (kerr.KafkaConnectionError, kerr.IncompatibleBrokerVersion) as exc:
        raise _unsupported(bootstrap, exc) from exc
    if isinstance(request, CreateAclsRequest):
        return [code for code, _ in response.creation_responses]
    return [code for code, _, _ in response.filter_responses]


async def apply_acls(
    bootstrap: str, *, add: Sequence[AclBinding] = (), remove: Sequence[AclBinding] = (),
    security: KafkaSecurity = PLAINTEXT,
) -> None:
    """Add `add` and remove `remove` (exact matches) on the cluster; raise `TransportError` naming each refusal.

    The principal of `security` must be allowed to ALTER the cluster (a Kafka super user, in practice).
    """
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **security.client_options())
    requests: list[tuple[str, AclBinding, _AclRequest]] = [("add", b, CreateAclsRequest(*b.wire_fields())) for b in add]
    requests += [("remove", b, DeleteAclsRequest(*b.wire_fields())) for b in remove]
    refused: list[str] = []
    try:
        async with map_connect_errors(f"connect to {bootstrap}", bootstrap, security):
            await client.bootstrap()
        with map_kafka_errors(f"apply ACLs on {bootstrap}"):
            for start in range(0, len(requests), _CONCURRENT_REQUESTS):
                chunk = requests[start:start + _CONCURRENT_REQUESTS]
                answers = await asyncio.gather(*(_send(client, bootstrap, r) for _, _, r in chunk),
                                               return_exceptions=True)
                for (verb, binding, _), answer in zip(chunk, answers):
                    if isinstance(answer, BaseException):
                        raise answer
                    refused += [f"{verb} {binding}: {kerr.for_code(code).__name__}" for code in answer if code]
    finally:
        await client.close()
    if refused:
        hint = " (the brokers have no authorizer)" if any("SecurityDisabled" in r for r in refused) else ""
        raise TransportError(f"{len(refused)} ACL change(s) refused by {bootstrap}{hint}: " + "; ".join(refused[:5]))
