"""The demo steps of the user-based half (topics, scheduling, fan-out jobs, mobile push): each
takes the running ``Demo`` (its stack, clients and helpers) and returns its one-line proof."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from local import sns_mobile, tokens
from local.demo_support import WAIT_S, check, http_call


async def topic_push(demo: Any) -> str:
    phone, laptop, bob = (demo.clients[n] for n in ("alice-phone", "alice-laptop", "bob"))
    await phone.send(json.dumps({"action": "subscribe", "topic": "news:sports"}))
    ack = await demo.receive(phone)
    check(ack.get("type") == "ack" and ack["data"].get("subscribed") is True, f"{ack}")
    await bob.send(json.dumps({"action": "subscribe", "topic": "vip:lounge"}))
    refused = await demo.receive(bob)
    check(refused.get("error", {}).get("code") == "FORBIDDEN", f"bob got {refused}")
    result = await demo.push({"topic": "news:sports", "message": {"score": "2-1"}})
    check(result.get("ok") is True and result.get("delivered") == 2, f"push result {result}")
    for ws in (phone, laptop):
        env = await demo.receive(ws)
        check(env.get("topic") == "news:sports", f"alice got {env}")
    check(await demo.nothing(bob), "bob received a topic he is not subscribed to")
    await laptop.send(json.dumps({"action": "poll", "topic": "news:sports"}))
    page = await demo.receive(laptop)
    ids = [i.get("id") for i in page.get("data", {}).get("items", [])]
    check(result["notificationId"] in ids, f"topic history {page}")
    return (
        f"subscribe ack; bob refused vip:lounge (FORBIDDEN: not self-service, no claim); "
        f"push result: topic {result['topic']}, delivered {result['delivered']}; "
        f"topic history: {len(ids)} item(s), stored once for the topic"
    )


async def scheduled_alice(demo: Any) -> str:
    send_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    when = send_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    result = await demo.push(
        {"userId": "alice", "message": {"text": "Reminder: webinar soon"}, "sendAt": when}
    )
    check(result.get("scheduled") is True, f"scheduled publish answered {result}")
    phone = demo.clients["alice-phone"]
    early = max(send_at.timestamp() - time.time() - 0.5, 0.1)
    check(await demo.nothing(phone, within=early), "the reminder arrived before its time")
    env = await demo.receive(phone, timeout=WAIT_S + 5)
    check(time.time() >= send_at.timestamp() - 0.05, "the reminder arrived early")
    check(env.get("data") == {"text": "Reminder: webinar soon"}, f"alice got {env}")
    return f"schedule {result['scheduleId']} fired at {when} (fireTimes {result['fireTimes']})"


async def fanout_job(demo: Any) -> str:
    users = [f"erin-{i}" for i in range(5)]
    sockets = [await demo.connect(user, user) for user in users]
    body = json.dumps({"userIds": users, "message": {"text": "big news"}}).encode()
    status, started = await asyncio.to_thread(
        http_call, demo.stack, "POST", "/v1/notifications", body, sign=True
    )
    check(status == 202 and started.get("job", {}).get("shards") == 3, f"HTTP {status}: {started}")
    for ws in sockets:
        env = await demo.receive(ws)
        check(env.get("id") == started["notificationId"], f"got {env}")
    path = f"/v1/notifications/{started['notificationId']}"
    deadline = time.monotonic() + WAIT_S
    while True:
        status, progress = await asyncio.to_thread(
            http_call, demo.stack, "GET", path, b"", sign=True
        )
        job = progress.get("job", {})
        if job.get("state") == "done" or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    check(job.get("state") == "done" and job.get("delivered") == 5, f"GET {path}: {progress}")
    for ws in sockets:
        await ws.close()
    return (
        f"202 {json.dumps(started['job'])}; GET: {job['shardsDone']} shards done, "
        f"{job['delivered']} delivered"
    )


async def mobile_fallback(demo: Any) -> str:
    phones = {"alice": ("a1" * 32, "APNS"), "bob": ("fcm-demo-bob-token", "GCM")}
    for user, (device, platform) in phones.items():
        body = json.dumps({"platform": platform, "app": "demo"}).encode()
        token = tokens.mint(demo.stack, user)
        status, answer = await asyncio.to_thread(
            http_call, demo.stack, "PUT", f"/v1/me/devices/{device}", body, token=token
        )
        check(status == 200, f"registering {user}'s phone: HTTP {status}: {answer}")
    result = await demo.push(
        {
            "userIds": ["alice", "bob"],
            "message": {"text": "lunch?"},
            "mobile": {"title": "alice", "body": "lunch?", "mode": "fallback"},
        }
    )
    check(result.get("mobile", {}).get("sent") == 1, f"push answered {result}")
    await demo.receive(demo.clients["alice-phone"])
    view = await asyncio.to_thread(sns_mobile.deliveries, demo.stack["aws_endpoint"])
    got = {
        endpoint["token"]: len(endpoint["deliveries"])
        for endpoint in view.values()
        if endpoint["token"] in (phones["alice"][0], phones["bob"][0])
    }
    check(got == {phones["alice"][0]: 0, phones["bob"][0]: 1}, f"phones received {got}")
    return (
        f"live delivered {result['delivered']}, mobile {json.dumps(result['mobile'])}; "
        f"{demo.stack['sns_deliveries_url']}: bob's phone 1, alice's phone 0"
    )
