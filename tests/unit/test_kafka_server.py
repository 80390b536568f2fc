from __future__ import annotations

import base64

from infra.kafka_server import new_cluster_id


def test_a_cluster_id_never_starts_with_a_dash() -> None:
    # 0xf8 encodes to '-' in URL-safe base64: the first draw would start with it, the second does not.
    draws = iter([b"\xf8" + bytes(15), b"\x01" + bytes(15)])
    cluster_id = new_cluster_id(lambda: next(draws))
    assert cluster_id == base64.urlsafe_b64encode(b"\x01" + bytes(15)).decode().rstrip("=")
    assert len(cluster_id) == 22


def test_cluster_ids_are_random() -> None:
    ids = {new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    assert not any(cluster_id.startswith("-") for cluster_id in ids)
