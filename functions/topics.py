"""topics: subscriptions to topics (wsnotify.topics, wsnotify.subscribing), three entry points.

- WebSocket routes ``subscribe`` and ``unsubscribe`` (``{"action", "topic"}``): the caller's own
  subscription, answered with an ack or an error frame;
- HTTP API (payload format 2.0, docs/openapi.yaml): ``PUT|DELETE
  /v1/topics/{topic}/subscribers/{userId}`` and ``GET /v1/topics/{topic}/subscribers`` (IAM,
  backends), ``GET|PUT|DELETE /v1/me/subscriptions/{topic}`` and ``GET /v1/me/subscriptions``
  (JWT, the token's subject);
- direct invoke by a backend: ``{"topics": {"action": "subscribe"|"unsubscribe"|"list",
  "topic", "userId"?, "after"?, "limit"?}}``; the answer is the HTTP route's document.

End users manage their own subscription only where the namespace allows self-subscription or
their token's claim lists the topic (wsnotify.topics.authorize_self)."""

from __future__ import annotations

from typing import Any

from wsnotify import config, envelope, events, httpapi, log, routes, subscribing, topics
from wsnotify.errors import FORBIDDEN, INTERNAL_ERROR, INVALID_REQUEST, RequestError
from wsnotify.validation import user_id as valid_user_id

ACTIONS = ("subscribe", "unsubscribe", "list")


def handler(event: Any, context: Any) -> dict[str, Any]:
    if events.is_http_api(event):
        return httpapi.run("topics", event, context, _http)
    if events.is_websocket_message(event):
        return routes.handle("topics", event, context, _websocket)
    return _invoke(event, context)


def _websocket(
    cfg: config.Config, event: dict[str, Any], inv: log.Invocation, body: dict[str, Any]
) -> bytes:
    action = str(events.request_context(event).get("routeKey", ""))
    user = events.caller_user(cfg, event)
    if user is None:
        raise RequestError(FORBIDDEN, "no authenticated user on this connection")
    unknown = sorted(str(k)[:40] for k in body if k != "topic")
    if unknown:
        raise RequestError(INVALID_REQUEST, f"unknown field(s): {', '.join(unknown[:5])}")
    topic = topics.resolve(cfg, body.get("topic"))
    inv.set(userId=user, action=action, topic=topic.name)
    topics.authorize_self(topic, topics.websocket_patterns(event))
    if action == "unsubscribe":
        result = subscribing.unsubscribe(cfg, topic, user)
    else:
        result = subscribing.subscribe(cfg, topic, user, "self")
    return envelope.ack(inv.request_id, result)


def _http(cfg: config.Config, event: dict[str, Any], inv: log.Invocation) -> dict[str, Any]:
    route = str(event.get("routeKey", ""))
    method = route.split(" ")[0]
    after = httpapi.query_parameter(event, "after")
    limit = httpapi.query_parameter(event, "limit")
    if " /v1/me/" in route:
        user = httpapi.token_user(event)  # the caller's own subscriptions, never a parameter
        inv.set(userId=user)
        if route.endswith("/v1/me/subscriptions"):
            return subscribing.user_topics(cfg, user, after, limit)
        topic = _path_topic(cfg, event)
        inv.set(topic=topic.name, action=method)
        if method == "GET":  # reading one's own membership grants nothing: no claim needed
            return subscribing.subscription(cfg, topic, user)
        topics.authorize_self(topic, topics.http_patterns(cfg, event))
        if method == "DELETE":
            return subscribing.unsubscribe(cfg, topic, user)
        return subscribing.subscribe(cfg, topic, user, "self")
    inv.set(caller=httpapi.iam_caller(event))
    topic = _path_topic(cfg, event)
    inv.set(topic=topic.name, action=method)
    if method == "GET":
        return subscribing.subscribers(cfg, topic, after, limit)
    user = valid_user_id(httpapi.path_parameter(event, "userId"))
    inv.set(userId=user)
    if method == "DELETE":
        return subscribing.unsubscribe(cfg, topic, user)
    return subscribing.subscribe(cfg, topic, user, "backend")


def _path_topic(cfg: config.Config, event: dict[str, Any]) -> topics.Topic:
    return topics.resolve(cfg, subscribing.path_topic(httpapi.path_parameter(event, "topic")))


def _invoke(event: Any, context: Any) -> dict[str, Any]:
    inv = log.Invocation("topics", event, context)
    inv.set(source="invoke")
    try:
        cfg = config.load()
        request = event.get("topics") if isinstance(event, dict) else None
        if not isinstance(request, dict) or len(event) != 1:
            raise RequestError(INVALID_REQUEST, 'the request must be {"topics": {...}}')
        action = request.get("action")
        if action not in ACTIONS:
            raise RequestError(
                INVALID_REQUEST, f"topics.action must be one of {', '.join(ACTIONS)}"
            )
        allowed = {"action", "topic"} | ({"after", "limit"} if action == "list" else {"userId"})
        unknown = sorted(str(k)[:40] for k in request if k not in allowed)
        if unknown:
            raise RequestError(INVALID_REQUEST, f"unknown field(s): {', '.join(unknown[:5])}")
        topic = topics.resolve(cfg, request.get("topic"))
        inv.set(action=action, topic=topic.name)
        if action == "list":
            result = subscribing.subscribers(cfg, topic, request.get("after"), request.get("limit"))
        else:
            user = valid_user_id(request.get("userId"))
            inv.set(userId=user)
            if action == "subscribe":
                result = subscribing.subscribe(cfg, topic, user, "backend")
            else:
                result = subscribing.unsubscribe(cfg, topic, user)
    except RequestError as exc:
        result = httpapi.failure(exc.code, exc.message)
    except Exception:
        log.exception("topics failed")
        result = httpapi.failure(
            INTERNAL_ERROR, f"internal error (request id: {inv.request_id or '-'})"
        )
    inv.set(ok=result["ok"], **({} if result["ok"] else {"error": result["error"]["code"]}))
    inv.emit()
    return result
