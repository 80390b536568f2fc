"""Kafka principals, one per role, and what each may do: the ACLs `infra up` applies to the local broker,
and the list an operator applies to theirs (README "Security model").

Nothing is allowed unless granted here (the broker runs with ``allow.everyone.if.no.acl.found=false``);
``admin`` is the broker's super user, for provisioning and operators' tools.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from typing import Literal

from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)

from base.errors import InfraError
from base.settings import Settings
from schemas import PIPELINE
from streams.topics import JOBS, STORAGE_EVENTS, UPLOADS, dead_letter_topic, stage_inputs, stage_topic

ADMIN = "admin"
# Who publishes submits from outside (anyone the operator lets in), and who follows jobs downstream.
PUBLIC_PUBLISHER = "public-publisher"
PUBLIC_READER = "public-reader"
SCRAM_ITERATIONS = 8192


@dataclass(frozen=True)
class Grant:
    resource: Literal["topic", "group"]
    name: str
    operation: Literal["read", "write"]
    prefixed: bool = False

    def binding(self, principal: str) -> AclBinding:
        return AclBinding(
            ResourceType.TOPIC if self.resource == "topic" else ResourceType.GROUP,
            self.name,
            ResourcePatternType.PREFIXED if self.prefixed else ResourcePatternType.LITERAL,
            f"User:{principal}",
            "*",
            AclOperation.READ if self.operation == "read" else AclOperation.WRITE,
            AclPermissionType.ALLOW,
        )


def _reads(*topics: str) -> list[Grant]:
    return [Grant("topic", name, "read") for name in topics]


def _writes(*topics: str) -> list[Grant]:
    return [Grant("topic", name, "write") for name in sorted(set(topics))]


def grants(group_prefix: str) -> dict[str, list[Grant]]:
    """Each principal → what it may do; consumer groups are those under ``group_prefix``."""
    groups = [Grant("group", group_prefix, "read", prefixed=True)]
    roles: dict[str, list[Grant]] = {}
    for position, stage in enumerate(PIPELINE):
        inputs = [spec.name for spec in stage_inputs(stage)]
        outputs = [JOBS.name, *(dead_letter_topic(name).name for name in inputs)]
        if position + 1 < len(PIPELINE):
            outputs.append(stage_topic(PIPELINE[position + 1]).name)
        if stage == PIPELINE[0]:
            outputs.append(stage_topic(stage).name)  # the gate passes admitted submits to extraction
        roles[stage] = [*_reads(*inputs), *_writes(*outputs), *groups]
    admitted = stage_topic(PIPELINE[0]).name
    roles["projector"] = [
        *_reads(JOBS.name, admitted),
        *_writes(dead_letter_topic(JOBS.name).name, dead_letter_topic(admitted).name),
        *groups,
    ]
    roles["janitor"] = [*_reads(JOBS.name), *groups]
    roles["api"] = _writes(UPLOADS.name, JOBS.name)  # submits, and cancellations
    roles["minio"] = _writes(STORAGE_EVENTS.name)
    roles[PUBLIC_PUBLISHER] = _writes(UPLOADS.name)
    roles[PUBLIC_READER] = [*_reads(JOBS.name), Grant("group", "*", "read")]
    return roles


def local_passwords(settings: Settings) -> dict[str, str]:
    """The local broker's principals and passwords, made once and kept in its state folder (0600)."""
    path = settings.kafka_principals_file
    known: dict[str, str] = {}
    if path.exists():
        known = json.loads(path.read_text())
    wanted = [ADMIN, *grants(settings.consumer_group_prefix)]
    if all(name in known for name in wanted):
        return known
    known |= {name: secrets.token_urlsafe(24) for name in wanted if name not in known}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(known, indent=2))
    os.chmod(partial, 0o600)
    partial.replace(path)
    return known


def principal_password(settings: Settings, principal: str) -> str | None:
    """A local principal's password; None when the local broker keeps none (no SASL, or not ours)."""
    try:
        found = json.loads(settings.kafka_principals_file.read_text()).get(principal)
    except (OSError, ValueError):
        return None
    return found if isinstance(found, str) else None


def apply(admin: AdminClient, passwords: dict[str, str], group_prefix: str, timeout_s: float = 30) -> None:
    """Create or update every principal's SCRAM credential and grant its ACLs. Safe to run again."""
    mechanism = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
    roles = grants(group_prefix)
    upserts: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(name, mechanism, passwords[name].encode()) for name in roles
    ]
    for name, future in admin.alter_user_scram_credentials(upserts, request_timeout=timeout_s).items():
        _wait(future, f"the Kafka principal {name}", timeout_s)
    bindings = [grant.binding(name) for name, granted in roles.items() for grant in granted]
    for binding, future in admin.create_acls(bindings, request_timeout=timeout_s).items():
        _wait(future, f"the ACL {binding}", timeout_s)


def _wait(future: object, what: str, timeout_s: float) -> None:
    try:
        future.result(timeout_s)  # type: ignore[attr-defined]
    except Exception as exc:
        raise InfraError(f"could not create {what}: {exc}") from exc
