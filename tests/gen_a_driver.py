"""Run operations with objectstore-client 0.0.9 (protocol generation A) and print what happened, as JSON.

Run by ``tests/test_server_gen_a.py`` with ``.venv-gen-a/bin/python`` (built by ``scripts/gen-a-env``), never
imported by the suite. It reads one JSON document on stdin::

    {"endpoint": "http://127.0.0.1:PORT", "usecase": "attachments", "scopes": {"org": 42, "project": 1337},
     "ops": [{"op": "put", "payload": {"seed": 1, "size": 100}, "key": "k", "compression": "zstd",
              "content_type": "text/plain", "metadata": {"a": "b"}, "expiration": {"tti": 3600}},
             {"op": "get", "key": "k", "decompress": true},
             {"op": "object_url", "key": "k"},
             {"op": "delete", "key": "k"}]}

and prints ``{"version": "0.0.9", "results": [...]}``, one result per operation: ``{"key": ...}`` for a put,
``{"size", "sha256", "content_type", "compression", "custom", "expiration"}`` for a get, ``{"url": ...}``,
``{}`` for a delete, or ``{"error": "RequestError", "status": ..., "message": ...}`` when the client raised
it. Payloads are ``random.Random(seed).randbytes(size)``, so the test can make the same bytes. The client is
used with its defaults (connect and read timeouts of 0.5 s, spec a.10).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import json
import random
import sys
from datetime import timedelta
from typing import Any

# mypy checks this file against .venv, where objectstore_client is 0.2.10 with another API; the module is
# loaded untyped because it runs against 0.0.9 only.
client_module: Any = importlib.import_module("objectstore_client")


def payload(spec: dict[str, int]) -> bytes:
    return random.Random(spec["seed"]).randbytes(spec["size"])


def policy(spec: dict[str, int] | None) -> Any:
    if spec is None:
        return None
    ((kind, seconds),) = spec.items()
    cls = client_module.TimeToIdle if kind == "tti" else client_module.TimeToLive
    return cls(timedelta(seconds=seconds))


def describe_policy(value: Any) -> dict[str, int] | None:
    if value is None:
        return None
    kind = "tti" if isinstance(value, client_module.TimeToIdle) else "ttl"
    return {kind: int(value.delta.total_seconds())}


def run(session: Any, op: dict[str, Any]) -> dict[str, Any]:
    name = op["op"]
    if name == "put":
        key = session.put(
            payload(op["payload"]),
            id=op.get("key"),
            compression=op.get("compression"),
            content_type=op.get("content_type"),
            metadata=op.get("metadata"),
            expiration_policy=policy(op.get("expiration")),
        )
        return {"key": key}
    if name == "get":
        result = session.get(op["key"], decompress=op.get("decompress", True))
        digest = hashlib.sha256()
        size = 0
        while chunk := result.payload.read(1 << 16):
            digest.update(chunk)
            size += len(chunk)
        meta = result.metadata
        return {
            "size": size,
            "sha256": digest.hexdigest(),
            "content_type": meta.content_type,
            "compression": meta.compression,
            "custom": meta.custom,
            "expiration": describe_policy(meta.expiration_policy),
        }
    if name == "object_url":
        return {"url": session.object_url(op["key"])}
    if name == "delete":
        session.delete(op["key"])
        return {}
    raise ValueError(f"unknown op {name!r}")


def main() -> None:
    request = json.load(sys.stdin)
    client = client_module.Client(request["endpoint"])
    session = client.session(client_module.Usecase(request["usecase"]), **request["scopes"])
    results = []
    for op in request["ops"]:
        try:
            results.append(run(session, op))
        except client_module.RequestError as err:
            results.append({"error": "RequestError", "status": err.status, "message": str(err)})
    json.dump({"version": importlib.metadata.version("objectstore-client"), "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
