"""SQS event source mappings: poll the queues a Terraform configuration maps to functions and
invoke them as Lambda's pollers do.

AWS behaviour reproduced (Lambda developer guide, "Using Lambda with Amazon SQS": with-sqs,
services-sqs-errorhandling, services-sqs-scaling):

- the mappings are read from the emulated Lambda control plane (ListEventSourceMappings: what
  Terraform created), never from a list kept here; their state is re-read every
  ``REFRESH_S`` seconds, so ``Enabled = false`` (UpdateEventSourceMapping) stops a poller and
  ``true`` starts it again;
- the poller receives with the function's execution role (as Lambda does: the role needs
  ``sqs:ReceiveMessage``, ``sqs:DeleteMessage`` and ``sqs:GetQueueAttributes``; the emulated
  IAM refuses otherwise) and the queue's visibility timeout;
- up to ``BatchSize`` messages per invocation (several ReceiveMessage calls of at most 10 within
  ``MaximumBatchingWindowInSeconds``), at most ``ScalingConfig.MaximumConcurrency`` invocations
  at once (Lambda's default scaling when unset, bounded by the runtime's workers);
- the event is Lambda's SQS event: ``{"Records": [{"messageId", "receiptHandle", "body",
  "attributes": {"ApproximateReceiveCount", "SentTimestamp", "SenderId",
  "ApproximateFirstReceiveTimestamp"}, "messageAttributes", "md5OfBody", "eventSource":
  "aws:sqs", "eventSourceARN", "awsRegion"}]}`` (the shape aws-lambda-powertools' SQSEvent model
  parses; tests/e2e/test_local_sqs_esm.py checks it with that model);
- success deletes the batch; a function error or a throttle deletes nothing (the messages come
  back after the visibility timeout); with ``FunctionResponseTypes = ["ReportBatchItemFailures"]``
  only the records listed in ``batchItemFailures`` stay, and an answer Lambda cannot read (an
  item identifier that is empty, missing or not in the batch) fails the whole batch;
- maxReceiveCount and the dead-letter queue: moto's own redrive (a message received
  maxReceiveCount times moves to the DLQ on the next receive), which is SQS's behaviour.

moto would invoke a mapped function itself on SendMessage (through Docker, one record, failures
ignored); local/moto_main.py turns that off so this poller is the only consumer.
``LOCAL_SQS_VISIBILITY_S`` replaces the queues' visibility timeout on receive (the tests' DLQ
path would otherwise wait 6x the function timeout per retry); it is an emulator knob only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from local.controlplane import aws_client
from local.lambdas import FunctionPool

log = logging.getLogger("local.sqs_esm")

REFRESH_S = 2.0
WAIT_S = 1  # long-poll wait of each ReceiveMessage (Lambda uses 20 s; shorter stops faster)
DEFAULT_CONCURRENCY = 1000  # Lambda's SQS scaling cap when MaximumConcurrency is unset
VISIBILITY_OVERRIDE_ENV = "LOCAL_SQS_VISIBILITY_S"


@dataclass(frozen=True)
class Mapping:
    uuid: str
    function_name: str
    queue_arn: str
    queue_url: str
    batch_size: int
    batching_window_s: float
    max_concurrency: int
    report_item_failures: bool
    enabled: bool


def queue_url_of(arn: str, sqs: Any) -> str:
    _, _, _, _, account, name = arn.split(":", 5)
    return str(sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])


def read_mappings(endpoint: str, region: str) -> list[Mapping]:
    """The SQS event source mappings of the emulated account."""
    lam = aws_client("lambda", endpoint, region)
    sqs = aws_client("sqs", endpoint, region)
    found: list[Mapping] = []
    for page in lam.get_paginator("list_event_source_mappings").paginate():
        for esm in page.get("EventSourceMappings", []):
            arn = str(esm.get("EventSourceArn") or "")
            if not arn.startswith("arn:") or arn.split(":")[2] != "sqs":
                continue
            scaling = esm.get("ScalingConfig") or {}
            found.append(
                Mapping(
                    uuid=esm["UUID"],
                    function_name=esm["FunctionArn"].split(":function:")[-1].split(":")[0],
                    queue_arn=arn,
                    queue_url=queue_url_of(arn, sqs),
                    batch_size=int(esm.get("BatchSize") or 10),
                    batching_window_s=float(esm.get("MaximumBatchingWindowInSeconds") or 0),
                    max_concurrency=int(scaling.get("MaximumConcurrency") or DEFAULT_CONCURRENCY),
                    report_item_failures="ReportBatchItemFailures"
                    in (esm.get("FunctionResponseTypes") or []),
                    enabled=esm.get("State", "Enabled") in ("Enabled", "Enabling", "Updating"),
                )
            )
    return found


def record_of(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of Lambda's SQS event from a ReceiveMessage message."""
    attributes = message.get("Attributes") or {}
    body = str(message.get("Body", ""))
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": {
            key: str(attributes[key])
            for key in (
                "ApproximateReceiveCount",
                "SentTimestamp",
                "SenderId",
                "ApproximateFirstReceiveTimestamp",
                "SequenceNumber",
                "MessageGroupId",
                "MessageDeduplicationId",
            )
            if key in attributes
        },
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType", "String"),
            }
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def retained(result: Any, batch: list[dict[str, Any]], report_item_failures: bool) -> set[str]:
    """Message ids to leave on the queue after an invocation that returned `result`."""
    every = {record["messageId"] for record in batch}
    if not report_item_failures or result is None:
        return set()
    if not isinstance(result, dict):
        return every  # unreadable answer: the whole batch fails
    failures = result.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return every
    kept: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in every:
            return every
        kept.add(identifier)
    return kept


def visibility_override() -> int | None:
    raw = os.environ.get(VISIBILITY_OVERRIDE_ENV, "").strip()
    if not raw:
        return None
    value = int(raw)
    if not 0 <= value <= 43_200:
        raise ValueError(f"{VISIBILITY_OVERRIDE_ENV} must be 0..43200 seconds")
    return value


class Pollers:
    """One polling task per mapping on the runtime's loop; ``stop`` cancels them."""

    def __init__(
        self,
        endpoint: str,
        region: str,
        pools: dict[str, FunctionPool],
        credentials: dict[str, dict[str, str]],
        max_workers: int,
    ) -> None:
        self.endpoint = endpoint
        self.region = region
        self.pools = pools
        self.credentials = credentials  # function name -> its role's session credentials
        self.max_workers = max_workers
        self.mappings: dict[str, Mapping] = {}
        self.invocations = 0
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._refresher: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self.visibility = visibility_override()

    async def start(self) -> None:
        await self.refresh()
        self._refresher = asyncio.create_task(self._refresh_forever())

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_S)
            try:
                await self.refresh()
            except Exception:  # the control plane is going away (shutdown) or hiccuped
                log.debug("event source mappings not re-read", exc_info=True)

    async def refresh(self) -> None:
        loop = asyncio.get_running_loop()
        mappings = await loop.run_in_executor(None, read_mappings, self.endpoint, self.region)
        for mapping in mappings:
            if mapping.function_name not in self.pools:
                log.warning("mapping %s: unknown function %s", mapping.uuid, mapping.function_name)
                continue
            self.mappings[mapping.uuid] = mapping
            if mapping.uuid not in self._tasks:
                self._tasks[mapping.uuid] = asyncio.create_task(self._poll(mapping.uuid))
        gone = set(self._tasks) - {m.uuid for m in mappings}
        for uuid in gone:
            self._tasks.pop(uuid).cancel()
            self.mappings.pop(uuid, None)

    def _sqs(self, function_name: str) -> Any:
        import boto3

        creds = self.credentials.get(function_name) or {}
        session = boto3.session.Session(
            aws_access_key_id=creds.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=creds.get("AWS_SECRET_ACCESS_KEY"),
            aws_session_token=creds.get("AWS_SESSION_TOKEN"),
            region_name=self.region,
        )
        if not creds:
            return aws_client("sqs", self.endpoint, self.region)
        return session.client("sqs", endpoint_url=self.endpoint)

    async def _poll(self, uuid: str) -> None:
        loop = asyncio.get_running_loop()
        first = self.mappings[uuid]
        sqs = self._sqs(first.function_name)
        running: set[asyncio.Task[None]] = set()
        while True:
            mapping = self.mappings[uuid]
            limit = max(1, min(mapping.max_concurrency, self.max_workers))
            if not mapping.enabled or len(running) >= limit:
                await asyncio.sleep(0.2 if mapping.enabled else REFRESH_S / 2)
                continue
            try:
                batch = await loop.run_in_executor(None, self._receive, sqs, mapping)
            except Exception as exc:  # e.g. AccessDenied: the role may not receive
                log.warning("mapping %s: receive failed: %s", uuid, exc)
                await asyncio.sleep(REFRESH_S)
                continue
            if not batch:
                continue
            task = asyncio.create_task(self._invoke(sqs, mapping, batch))
            running.add(task)
            self._inflight.add(task)
            task.add_done_callback(running.discard)
            task.add_done_callback(self._inflight.discard)

    def _receive(self, sqs: Any, mapping: Mapping) -> list[dict[str, Any]]:
        """Up to BatchSize messages: ReceiveMessage (10 at most each) until the batch is full,
        the queue has nothing more, or the batching window closes."""
        batch: list[dict[str, Any]] = []
        closes = time.monotonic() + mapping.batching_window_s
        while len(batch) < mapping.batch_size:
            kwargs: dict[str, Any] = {
                "QueueUrl": mapping.queue_url,
                "MaxNumberOfMessages": min(10, mapping.batch_size - len(batch)),
                "WaitTimeSeconds": 0 if batch else WAIT_S,
                "AttributeNames": ["All"],
                "MessageAttributeNames": ["All"],
            }
            if self.visibility is not None:
                kwargs["VisibilityTimeout"] = self.visibility
            messages = sqs.receive_message(**kwargs).get("Messages", [])
            batch.extend(record_of(m, mapping.queue_arn, self.region) for m in messages)
            if not messages and time.monotonic() >= closes:
                break
        return batch

    async def _invoke(self, sqs: Any, mapping: Mapping, batch: list[dict[str, Any]]) -> None:
        pool = self.pools[mapping.function_name]
        self.invocations += 1
        result = await pool.invoke({"Records": batch})
        if result.function_error or result.throttled:
            log.info("mapping %s: batch of %d failed; left to SQS", mapping.uuid, len(batch))
            return
        keep = retained(result.payload, batch, mapping.report_item_failures)
        done = [r for r in batch if r["messageId"] not in keep]
        if done:
            await asyncio.get_running_loop().run_in_executor(None, self._delete, sqs, mapping, done)

    @staticmethod
    def _delete(sqs: Any, mapping: Mapping, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), 10):
            sqs.delete_message_batch(
                QueueUrl=mapping.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": r["receiptHandle"]}
                    for i, r in enumerate(records[start : start + 10])
                ],
            )

    async def stop(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=10)
