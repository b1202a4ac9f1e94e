"""local/sqs_esm.py: SQS event source mappings as Lambda runs them, against moto's server
(local.moto_main) and a recording function: the event shape (aws-lambda-powertools' SqsModel),
batch size, partial batch responses, visibility timeout, maxReceiveCount and the DLQ (moto's
redrive), Enabled/Disabled and maximum concurrency. The fan-out jobs test
(test_fanout_jobs.py) runs the same poller through the whole stack."""

from __future__ import annotations

import asyncio
import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import SqsModel

from local import sqs_esm
from local.controlplane import aws_client
from local.lambdas import InvokeResult
from local.motoserver import MotoServer

REGION = "us-east-1"


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with MotoServer(tmp_path_factory.mktemp("sqs-esm") / "moto.log") as server:
        yield server.endpoint


class Recorder:
    """A function: records each event, answers with `answer(event)`, at most `running` at once."""

    def __init__(self, answer: Any, delay_s: float = 0.0) -> None:
        self.answer = answer
        self.delay_s = delay_s
        self.events: list[dict[str, Any]] = []
        self.running = 0
        self.most_running = 0

    async def invoke(self, event: Any, request_id: str | None = None) -> InvokeResult:
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await asyncio.sleep(self.delay_s)
            self.events.append(event)
            return self.answer(event)  # type: ignore[no-any-return]
        finally:
            self.running -= 1


def deploy(moto: str, name: str, max_receive: int = 2, **mapping: Any) -> dict[str, str]:
    """A queue with a DLQ, a function and its mapping, as Terraform creates them."""
    sqs = aws_client("sqs", moto, REGION)
    lam = aws_client("lambda", moto, REGION)
    iam = aws_client("iam", moto, REGION)
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive)}
            ),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    role = iam.create_role(
        RoleName=f"{name}-role",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("f.py", "def handler(event, context):\n    return None\n")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="f.handler",
        Code={"ZipFile": code.getvalue()},
    )
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, **mapping)["UUID"]
    return {"queue": queue, "dlq": dlq, "arn": arn, "uuid": uuid}


def run_pollers(moto: str, name: str, function: Recorder, seconds: float) -> sqs_esm.Pollers:
    async def body() -> sqs_esm.Pollers:
        pollers = sqs_esm.Pollers(moto, REGION, {name: function}, {}, max_workers=8)  # type: ignore[dict-item]
        await pollers.start()
        await asyncio.sleep(seconds)
        await pollers.stop()
        return pollers

    return asyncio.run(body())


def send(moto: str, queue: str, bodies: list[str]) -> None:
    sqs = aws_client("sqs", moto, REGION)
    for body in bodies:
        sqs.send_message(QueueUrl=queue, MessageBody=body)


def left(moto: str, queue: str) -> list[str]:
    sqs = aws_client("sqs", moto, REGION)
    found: list[str] = []
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=30
        ).get("Messages", [])
        found.extend(m["Body"] for m in messages)
        if not messages and found:
            break
    return sorted(found)


def test_mappings_are_read_from_the_control_plane(moto: str) -> None:
    made = deploy(
        moto,
        "esm-read",
        BatchSize=5,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        ScalingConfig={"MaximumConcurrency": 3},
    )
    (mapping,) = [m for m in sqs_esm.read_mappings(moto, REGION) if m.uuid == made["uuid"]]
    assert (mapping.function_name, mapping.queue_arn, mapping.queue_url) == (
        "esm-read",
        made["arn"],
        made["queue"],
    )
    assert (mapping.batch_size, mapping.max_concurrency, mapping.report_item_failures) == (
        5,
        3,
        True,
    )
    assert mapping.enabled
    aws_client("lambda", moto, REGION).update_event_source_mapping(UUID=made["uuid"], Enabled=False)
    (paused,) = [m for m in sqs_esm.read_mappings(moto, REGION) if m.uuid == made["uuid"]]
    assert not paused.enabled


def test_records_have_lambdas_sqs_event_shape(moto: str) -> None:
    made = deploy(moto, "esm-shape", BatchSize=3)
    function = Recorder(lambda event: InvokeResult(None))
    send(moto, made["queue"], ["a", "b", "c", "d"])
    run_pollers(moto, "esm-shape", function, 2.5)
    assert sorted(len(e["Records"]) for e in function.events) in ([1, 3], [2, 2], [1, 1, 2])
    records = [r for e in function.events for r in e["Records"]]
    assert sorted(r["body"] for r in records) == ["a", "b", "c", "d"]
    for event in function.events:
        parsed = SqsModel.model_validate(event)  # powertools' model of Lambda's SQS event
        assert parsed.Records[0].eventSource == "aws:sqs"
        assert parsed.Records[0].attributes.ApproximateReceiveCount == "1"
    assert records[0]["eventSourceARN"] == made["arn"] and records[0]["awsRegion"] == REGION
    assert left(moto, made["queue"]) == []  # success deletes


def test_partial_batch_failures_redeliver_then_the_dlq_takes_them(moto: str) -> None:
    made = deploy(
        moto,
        "esm-partial",
        max_receive=2,
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )

    def answer(event: dict[str, Any]) -> InvokeResult:
        bad = [r["messageId"] for r in event["Records"] if r["body"] == "poison"]
        return InvokeResult({"batchItemFailures": [{"itemIdentifier": i} for i in bad]})

    function = Recorder(answer)
    send(moto, made["queue"], ["ok-1", "poison", "ok-2"])
    run_pollers(moto, "esm-partial", function, 5.0)  # visibility 1 s: two receives, then DLQ
    receives = [
        r["attributes"]["ApproximateReceiveCount"]
        for e in function.events
        for r in e["Records"]
        if r["body"] == "poison"
    ]
    assert receives == ["1", "2"]
    assert sorted(r["body"] for e in function.events for r in e["Records"]).count("ok-1") == 1
    assert left(moto, made["queue"]) == []
    assert left(moto, made["dlq"]) == ["poison"]


def test_an_unreadable_answer_or_an_error_fails_the_whole_batch(moto: str) -> None:
    made = deploy(
        moto,
        "esm-whole",
        max_receive=10,
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    function = Recorder(lambda e: InvokeResult({"batchItemFailures": [{"itemIdentifier": ""}]}))
    send(moto, made["queue"], ["x", "y"])
    run_pollers(moto, "esm-whole", function, 1.5)
    assert left(moto, made["queue"]) == ["x", "y"]
    assert sqs_esm.retained({"batchItemFailures": None}, [{"messageId": "m"}], True) == set()
    assert sqs_esm.retained("text", [{"messageId": "m"}], True) == {"m"}
    assert sqs_esm.retained({"batchItemFailures": [{"itemIdentifier": "x"}]}, [], False) == set()


def test_disabled_mappings_do_not_poll_and_concurrency_is_capped(moto: str) -> None:
    made = deploy(moto, "esm-state", BatchSize=1, ScalingConfig={"MaximumConcurrency": 2})
    lam = aws_client("lambda", moto, REGION)
    lam.update_event_source_mapping(UUID=made["uuid"], Enabled=False)
    function = Recorder(lambda e: InvokeResult(None), delay_s=0.5)
    send(moto, made["queue"], [str(i) for i in range(6)])
    run_pollers(moto, "esm-state", function, 1.5)
    assert function.events == []
    lam.update_event_source_mapping(UUID=made["uuid"], Enabled=True)
    run_pollers(moto, "esm-state", function, 4.0)
    assert len(function.events) == 6
    assert function.most_running == 2


def test_sending_to_a_mapped_queue_does_not_invoke_through_moto(moto: str, tmp_path: Path) -> None:
    made = deploy(moto, "esm-inert", BatchSize=1)
    send(moto, made["queue"], ["only the poller takes me"])
    assert left(moto, made["queue"]) == ["only the poller takes me"]
