"""Layer micro-benchmarks for channels' and channels_redis's layers, the same
measurements as bench/layers/micro.ts. argv[1]: memory | redis | pubsub; the
Redis URL in BENCH_REDIS_URL. Prints one JSON object."""
import asyncio
import json
import os
import sys
import time

MEMBERS = 1000
BUDGET = 2.0


def make_layer(kind, url):
    if kind == "memory":
        from channels.layers import InMemoryChannelLayer
        return InMemoryChannelLayer(capacity=1000)
    if kind == "redis":
        from channels_redis.core import RedisChannelLayer
        return RedisChannelLayer(hosts=[url], prefix="benchmicropy")
    if kind == "pubsub":
        from channels_redis.pubsub import RedisPubSubChannelLayer
        return RedisPubSubChannelLayer(hosts=[url], prefix="benchmicropyps")
    raise ValueError(kind)


async def round_trips(layer, max_ops):
    channel = await layer.new_channel()
    message = {"type": "bench.ping", "text": "x" * 32}
    for _ in range(50):
        await layer.send(channel, message)
        await layer.receive(channel)
    t0 = time.perf_counter()
    ops = 0
    while ops < max_ops and time.perf_counter() - t0 < BUDGET:
        await layer.send(channel, message)
        await layer.receive(channel)
        ops += 1
    s = time.perf_counter() - t0
    return {"ops": ops, "usPerOp": round(s * 1e6 / ops, 1), "opsPerSecond": round(ops / s)}


async def group_fanout(layer, max_ops):
    channels = [await layer.new_channel() for _ in range(MEMBERS)]
    for channel in channels:
        await layer.group_add("benchgroup", channel)
    message = {"type": "chat.message", "message": "x" * 32, "username": "bench"}

    async def once():
        received = asyncio.gather(*(layer.receive(c) for c in channels))
        await asyncio.sleep(0)
        await layer.group_send("benchgroup", message)
        await received

    await once()
    t0 = time.perf_counter()
    ops = 0
    while ops < max_ops and time.perf_counter() - t0 < BUDGET:
        await once()
        ops += 1
    s = time.perf_counter() - t0
    return {"members": MEMBERS, "ops": ops, "msPerGroupSend": round(s * 1000 / ops, 3), "usPerDelivery": round(s * 1e6 / ops / MEMBERS, 2)}


async def main():
    kind = sys.argv[1] if len(sys.argv) > 1 else "memory"
    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    layer = make_layer(kind, url)
    result = {"layer": kind, "roundTrip": await round_trips(layer, 200_000 if kind == "memory" else 20_000),
              "groupSend": await group_fanout(layer, 2000 if kind == "memory" else 200)}
    if hasattr(layer, "flush"):
        await layer.flush()
    print(json.dumps(result))


asyncio.run(main())
