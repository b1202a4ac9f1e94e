"""Purpose-built handlers that exercise every gateway behaviour (not the project's handlers).

Each one records what it received in the DynamoDB table named by EVENTS_TABLE, through the
emulated AWS, so tests can check events field for field and the SDK wiring at the same time.
"""

import json
import os
import time

import boto3

_db = boto3.client("dynamodb")


def _record(kind, event, context):
    item = {
        "pk": {"S": f"{kind}#{event['requestContext']['connectionId']}"},
        "event": {"S": json.dumps(event)},
        "requestId": {"S": context.aws_request_id},
        "remainingMs": {"N": str(context.get_remaining_time_in_millis())},
        "env": {
            "S": json.dumps(
                {
                    k: v
                    for k, v in os.environ.items()
                    if k.startswith(("AWS_LAMBDA", "CONNECTIONS", "SAMPLE", "EVENTS"))
                }
            )
        },
    }
    _db.put_item(TableName=os.environ["EVENTS_TABLE"], Item=item)


def authorize(event, context):
    _record("auth", event, context)
    token = (event.get("queryStringParameters") or {}).get("token", "")
    if token == "boom":
        raise ValueError("authorizer crashed")
    if token == "malformed":
        return {"principalId": "x"}
    effect, resource = "Allow", event["methodArn"]
    if token == "deny":
        effect = "Deny"
    elif token == "wildcard":
        resource = event["methodArn"].rsplit("/", 1)[0] + "/*/*"
    elif not token.startswith("user-"):
        raise Exception("Unauthorized")
    return {
        "principalId": token,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
        "context": {"userId": token.removeprefix("user-"), "tier": 3, "admin": False},
    }


def connect(event, context):
    _record("connect", event, context)
    query = event.get("queryStringParameters") or {}
    if "reject" in query:
        return {"statusCode": int(query["reject"])}
    offered = event["headers"].get("Sec-WebSocket-Protocol")
    if offered:
        first = offered.split(",")[0].strip()
        return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": first}}
    return {"statusCode": 200}


def disconnect(event, context):
    _record("disconnect", event, context)
    return {"statusCode": 200}


def echo(event, context):
    return {
        "statusCode": 200,
        "body": json.dumps(
            {
                "event": event,
                "remainingMs": context.get_remaining_time_in_millis(),
                "requestId": context.aws_request_id,
                "pid": os.getpid(),
            }
        ),
    }


def slow(event, context):
    time.sleep(float(json.loads(event["body"]).get("seconds", 5)))
    return {"statusCode": 200, "body": "done"}


def fail(event, context):
    raise RuntimeError("handler failed on purpose")


def tell(event, context):
    """Answers through @connections (no route response), like the project's push/poll."""
    body = json.loads(event["body"])
    client = boto3.client(
        "apigatewaymanagementapi", endpoint_url=os.environ["CONNECTIONS_ENDPOINT"]
    )
    target = body.get("to") or event["requestContext"]["connectionId"]
    try:
        client.post_to_connection(
            ConnectionId=target, Data=json.dumps({"told": body.get("text")}).encode()
        )
        info = client.get_connection(ConnectionId=event["requestContext"]["connectionId"])
        out = {"ok": True, "sourceIp": info["Identity"]["SourceIp"]}
    except client.exceptions.GoneException:
        out = {"ok": False, "error": "GoneException"}
    client.post_to_connection(
        ConnectionId=event["requestContext"]["connectionId"], Data=json.dumps(out).encode()
    )
    return {"statusCode": 200}


def kick(event, context):
    client = boto3.client(
        "apigatewaymanagementapi", endpoint_url=os.environ["CONNECTIONS_ENDPOINT"]
    )
    client.delete_connection(ConnectionId=event["requestContext"]["connectionId"])
    return {"statusCode": 200}


def direct(event, context):
    """Direct invocation target: echoes its event, or fails / stalls on request."""
    if event.get("fail"):
        raise ValueError("bad request: " + str(event["fail"]))
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("unserializable"):
        return {1, 2}
    return {
        "got": event,
        "function": context.function_name,
        "memory": context.memory_limit_in_mb,
        "env": os.environ.get("SAMPLE_SETTING"),
    }


def http_authorize(event, context):
    """HTTP API Lambda authorizer, payload 2.0 with IAM policy answers (not simple responses)."""
    _record("http-auth", {**event, "requestContext": {"connectionId": event["routeArn"]}}, context)
    value = event["headers"].get("x-sample-auth", "")
    if value == "boom":
        raise ValueError("authorizer crashed")
    if not value.startswith(("allow-", "deny-")):
        raise Exception("Unauthorized")
    return {
        "principalId": value,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow" if value.startswith("allow-") else "Deny",
                    "Resource": event["routeArn"],
                }
            ],
        },
        "context": {"user": value.split("-", 1)[1]},
    }
