"""moto's SQS messages, S3 objects and SSM parameters, written to disk as they change.

moto keeps everything in memory. The stack's tables live in DynamoDB Local's file, but a
queued message, a stored object or a parameter would be gone after a crash or a restart,
which is exactly what the webhook path promises never to lose. ``DurableState`` hooks the
moto models the stack's process serves (in-process calls and the functions' calls through
its endpoint alike) and writes each change before the call answers:

- SQS: one journal of JSON lines (``sqs.jsonl``): a message sent (or moved to a DLQ), its
  receive count, its deletion, a purge; flushed and ``fdatasync``-ed per line. At start the
  journal is replayed into the new queues (in-flight messages come back visible, as after
  their visibility timeout; receive counts kept, so redrive policies still count) and
  rewritten compactly.
- S3: each bucket's objects under ``s3/{bucket}/{key}`` (the latest version, written to a
  temporary file and renamed), their metadata in ``s3/{bucket}.meta/{key}.json``.
- SSM: every parameter in ``ssm.json`` (rewritten and renamed per change).

>>> state = DurableState(Path(".local"))
>>> state.install()          # after mock_aws starts, before anything is created
>>> state.restore(buckets, queues)
>>> state.uninstall()
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Callable, Optional

from samlocal.intrinsics import ACCOUNT, REGION

log = logging.getLogger("samlocal.durable")

COMPACT_AFTER = 20_000  # journal lines written since the last compaction, and more than 4x the live messages


class DurableState:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.journal_path = folder / "sqs.jsonl"
        self.objects = folder / "s3"
        self.parameters_path = folder / "ssm.json"
        self._lock = threading.Lock()
        self._journal: Any = None
        self._written = 0
        self._parameters: dict[str, dict] = {}
        self._restoring = threading.local()
        self._originals: list[tuple[Any, str, Callable]] = []
        self.buckets: set[str] = set()

    # --- lifecycle --------------------------------------------------------------------------

    def install(self) -> None:
        """Hook the moto models (undone by ``uninstall``)."""
        from moto.s3.models import FakeKey, S3Backend
        from moto.sqs.models import Message, Queue, SQSBackend
        from moto.ssm.models import SimpleSystemManagerBackend

        self.folder.mkdir(parents=True, exist_ok=True)
        state = self

        def add_message(queue, message, _original):
            _original(queue, message)
            if message in queue._messages:  # a FIFO duplicate is dropped
                state._append({"op": "put", "queue": queue.name, **_message_record(message)})

        def delete_message(queue, receipt_handle, _original):
            before = {m.id for m in queue._messages}
            _original(queue, receipt_handle)
            for gone in before - {m.id for m in queue._messages}:
                state._append({"op": "del", "id": gone})

        def mark_received(message, *args, _original, **kwargs):
            _original(message, *args, **kwargs)
            state._append({"op": "recv", "id": message.id, "count": message.approximate_receive_count,
                           "first": message.approximate_first_receive_timestamp})

        def purge_queue(backend, queue_name, _original):
            _original(backend, queue_name)
            state._append({"op": "purge", "queue": queue_name})

        def put_object(backend, bucket_name, key_name, *args, _original, **kwargs):
            key = _original(backend, bucket_name, key_name, *args, **kwargs)
            state._save_object(bucket_name, key_name, key)
            return key

        def set_metadata(key, *args, _original, **kwargs):
            _original(key, *args, **kwargs)
            state._save_metadata(key.bucket_name, key.name, key)

        def delete_object(backend, bucket_name, key_name, *args, _original, **kwargs):
            answer = _original(backend, bucket_name, key_name, *args, **kwargs)
            state._save_object(bucket_name, key_name, backend.get_object(bucket_name, key_name))
            return answer

        def put_parameter(backend, *args, _original, **kwargs):
            parameter = _original(backend, *args, **kwargs)
            state._save_parameter(parameter.name, {"Value": parameter.decrypt(parameter.value), "Type": parameter.parameter_type})
            return parameter

        def delete_parameter(backend, name, _original):
            answer = _original(backend, name)
            state._save_parameter(name, None)
            return answer

        def delete_parameters(backend, names, _original):
            deleted = _original(backend, names)
            for name in deleted:
                state._save_parameter(name, None)
            return deleted

        for owner, name, hook in ((Queue, "add_message", add_message), (Queue, "delete_message", delete_message),
                                  (Message, "mark_received", mark_received), (SQSBackend, "purge_queue", purge_queue),
                                  (S3Backend, "put_object", put_object), (FakeKey, "set_metadata", set_metadata),
                                  (S3Backend, "delete_object", delete_object),
                                  (SimpleSystemManagerBackend, "put_parameter", put_parameter),
                                  (SimpleSystemManagerBackend, "delete_parameter", delete_parameter),
                                  (SimpleSystemManagerBackend, "delete_parameters", delete_parameters)):
            self._patch(owner, name, hook)

    def _patch(self, owner: Any, name: str, hook: Callable) -> None:
        original = getattr(owner, name)
        if getattr(original, "_durable", False):
            raise RuntimeError(f"{owner.__name__}.{name} is hooked already: one durable stack per process")

        def wrapper(*args, **kwargs):
            return hook(*args, _original=original, **kwargs)

        wrapper._durable = True
        setattr(owner, name, wrapper)
        self._originals.append((owner, name, original))

    def uninstall(self) -> None:
        for owner, name, original in reversed(self._originals):
            setattr(owner, name, original)
        self._originals = []
        with self._lock:
            if self._journal:
                self._journal.close()
                self._journal = None

    def restore(self, buckets: list[str], queues: list[str]) -> None:
        """Put back what the folder holds into the (new, empty) buckets, queues and parameters."""
        self.buckets = set(buckets)
        self._restoring.active = True
        try:
            self._restore_objects()
            self._restore_parameters()
            live = self._restore_messages(set(queues))
        finally:
            self._restoring.active = False
        with self._lock:
            self._compact(live)

    # --- SQS ----------------------------------------------------------------------------------

    def _append(self, record: dict) -> None:
        if getattr(self._restoring, "active", False):
            return
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        with self._lock:
            if self._journal is None:
                self._journal = open(self.journal_path, "ab")  # noqa: SIM115 - kept open while the stack runs
            self._journal.write(line)
            self._journal.flush()
            os.fdatasync(self._journal.fileno())
            self._written += 1
            if self._written > COMPACT_AFTER:
                self._compact_from_queues()

    def _read_journal(self) -> dict[str, dict]:
        """The live messages by id: the last ``put`` of each, with later receive counts, minus deletions."""
        messages: dict[str, dict] = {}
        if not self.journal_path.exists():
            return messages
        with open(self.journal_path, "rb") as journal:
            for number, line in enumerate(journal, 1):
                try:
                    record = json.loads(line)
                except ValueError:  # the last line of a crash mid-write: the call never answered
                    log.warning("%s: line %d is incomplete; ignored", self.journal_path, number)
                    continue
                op = record.pop("op")
                if op == "put":
                    messages[record["id"]] = record
                elif op == "del":
                    messages.pop(record["id"], None)
                elif op == "recv" and record["id"] in messages:
                    messages[record["id"]].update(receives=record["count"], first=record["first"])
                elif op == "purge":
                    messages = {k: v for k, v in messages.items() if v["queue"] != record["queue"]}
        return messages

    def _restore_messages(self, queues: set[str]) -> list[dict]:
        from moto.sqs.models import Message, sqs_backends

        backend = sqs_backends[ACCOUNT][REGION]
        live = []
        for record in self._read_journal().values():
            if record["queue"] not in queues:
                log.warning("a message for queue %s, which the template no longer declares, is dropped", record["queue"])
                continue
            message = Message(record["id"], record["body"], record.get("system") or None)
            message.message_attributes = _attributes_in(record.get("attributes") or {})
            message.sent_timestamp = record["sent"]
            message.approximate_receive_count = record.get("receives", 0)
            message.approximate_first_receive_timestamp = record.get("first")
            message.group_id, message.deduplication_id = record.get("group"), record.get("dedup")
            message.sequence_number = record.get("sequence")
            backend.get_queue(record["queue"])._messages.append(message)
            live.append(record)
        if live:
            log.info("restored %d queued messages", len(live))
        return live

    def _compact_from_queues(self) -> None:
        """Under the lock: every change journaled so far is in the queues already (hooks journal after changing)."""
        from moto.sqs.models import sqs_backends

        backend = sqs_backends[ACCOUNT][REGION]
        live = [{"queue": queue.name, **_message_record(m)} for queue in list(backend.queues.values()) for m in list(queue._messages)]
        if self._written > 4 * len(live):
            self._compact(live)

    def _compact(self, live: list[dict]) -> None:
        """Rewrite the journal as one ``put`` per live message, atomically (the caller holds the lock)."""
        temporary = self.journal_path.with_suffix(".tmp")
        with open(temporary, "wb") as journal:
            for record in live:
                journal.write((json.dumps({"op": "put", **record}, separators=(",", ":")) + "\n").encode())
            journal.flush()
            os.fsync(journal.fileno())
        if self._journal:
            self._journal.close()
            self._journal = None
        temporary.replace(self.journal_path)
        self._written = 0

    # --- S3 -----------------------------------------------------------------------------------

    def _paths(self, bucket: str, key: str) -> Optional[tuple[Path, Path]]:
        if getattr(self._restoring, "active", False) or bucket not in self.buckets:
            return None
        root, meta_root = (self.objects / bucket).resolve(), (self.objects / f"{bucket}.meta").resolve()
        body, meta = (root / key).resolve(), (meta_root / f"{key}.json").resolve()
        if not body.is_relative_to(root) or not meta.is_relative_to(meta_root):
            log.warning("s3://%s/%s cannot be kept on disk under that key", bucket, key)
            return None
        return body, meta

    def _save_object(self, bucket: str, key: str, current: Any) -> None:
        """Keep the key's current version on disk, or remove it when there is none (deleted)."""
        paths = self._paths(bucket, key)
        if paths is None:
            return
        body, meta = paths
        try:
            if current is None or not hasattr(current, "value"):
                meta.unlink(missing_ok=True)
                body.unlink(missing_ok=True)
                return
            _write_atomically(body, current.value)
            _write_atomically(meta, json.dumps(dict(current.metadata)).encode())
        except OSError as error:  # a key that is also a "folder" of another key, say
            log.warning("s3://%s/%s could not be kept on disk: %s", bucket, key, error)

    def _save_metadata(self, bucket: str, key: str, current: Any) -> None:
        paths = self._paths(bucket, key)
        if paths is not None and paths[0].exists():
            _write_atomically(paths[1], json.dumps(dict(current.metadata)).encode())

    def _restore_objects(self) -> None:
        from moto.s3.models import s3_backends

        backend = s3_backends[ACCOUNT]["aws"]
        for bucket in self.buckets:
            root, metadata = self.objects / bucket, self.objects / f"{bucket}.meta"
            legacy = self.objects / f"{bucket}.index.json"  # objects saved at stop by earlier versions
            index = json.loads(legacy.read_text()) if legacy.exists() else {}
            for path in sorted(root.rglob("*")) if root.exists() else []:
                if not path.is_file() or path.name.endswith(".partial"):
                    continue
                key = path.relative_to(root).as_posix()
                meta_path = metadata / f"{key}.json"
                meta = json.loads(meta_path.read_text()) if meta_path.exists() else index.get(key, {})
                backend.put_object(bucket, key, path.read_bytes()).set_metadata(dict(meta))
                if not meta_path.exists():
                    _write_atomically(meta_path, json.dumps(meta).encode())
            legacy.unlink(missing_ok=True)

    # --- SSM ----------------------------------------------------------------------------------

    def _save_parameter(self, name: str, value: Optional[dict]) -> None:
        if getattr(self._restoring, "active", False):
            return
        with self._lock:
            if value is None:
                self._parameters.pop(name, None)
            else:
                self._parameters[name] = value
            _write_atomically(self.parameters_path, json.dumps(self._parameters).encode(), mode=0o600)

    def _restore_parameters(self) -> None:
        import boto3

        if not self.parameters_path.exists():
            return
        self._parameters = json.loads(self.parameters_path.read_text())
        ssm = boto3.client("ssm", region_name=REGION)
        for name, parameter in self._parameters.items():
            ssm.put_parameter(Name=name, Value=parameter["Value"], Type=parameter["Type"], Overwrite=True)


def _message_record(message: Any) -> dict:
    return {
        "id": message.id, "body": message.body, "attributes": _attributes_out(message.message_attributes),
        "system": message.system_attributes or None, "sent": message.sent_timestamp,
        "receives": message.approximate_receive_count, "first": message.approximate_first_receive_timestamp,
        "group": message.group_id, "dedup": message.deduplication_id, "sequence": message.sequence_number,
    }


def _attributes_out(attributes: dict) -> dict:
    """Message attributes as JSON: binary values in base64."""
    return {name: {k: (base64.b64encode(v).decode() if isinstance(v, bytes) else v) for k, v in value.items()}
            | ({"_binary": True} if isinstance(value.get("BinaryValue"), bytes) else {})
            for name, value in attributes.items()}


def _attributes_in(attributes: dict) -> dict:
    restored = {}
    for name, value in attributes.items():
        value = dict(value)
        if value.pop("_binary", False):
            value["BinaryValue"] = base64.b64decode(value["BinaryValue"])
        restored[name] = value
    return restored


def _write_atomically(path: Path, data: bytes, mode: Optional[int] = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{threading.get_ident()}.partial")
    with open(temporary, "wb") as target:
        target.write(data)
        target.flush()
        os.fsync(target.fileno())
    if mode is not None:
        os.chmod(temporary, mode)
    temporary.replace(path)
