"""Echo handler of the foreign example: answers every frame with its own body."""


def handler(event, context):
    return {"statusCode": 200, "body": event.get("body") or ""}
