"""A Django Channels peer for Switchyard's interop tests.

Started by test/interop/*.test.ts with /usr/bin/python3 (Debian's channels 4.0.0
and channels_redis 4.0.0). Configures Django with one CHANNEL_LAYERS entry from
the JSON config in argv[1], then answers JSON-line commands on stdin:

  {"id": 1, "op": "new_channel"}                      -> {"id": 1, "result": "specific.<cp>!<hex>"}
  {"id": 2, "op": "send", "channel": c, "message": m}
  {"id": 3, "op": "receive", "channel": c, "timeout": s} -> the message, or {"error": "timeout"}
  {"id": 4, "op": "group_add" | "group_discard", "group": g, "channel": c}
  {"id": 5, "op": "group_send", "group": g, "message": m}
  {"id": 6, "op": "consumer", "group": g}             -> a real AsyncConsumer's channel name; its
        handlers report each layer event as {"event": "consumer", "channel": name, "message": m}
  {"id": 7, "op": "worker", "channel": "worker-tasks"} -> a channels Worker on that channel, events as above

Bytes travel as {"__bytes__": "<hex>"} in JSON; {"__tuple__": [...]} becomes a Python tuple.
"""
import asyncio
import json
import sys

import django
from django.conf import settings

CONFIG = json.loads(sys.argv[1])
BACKEND = {
    "core": "channels_redis.core.RedisChannelLayer",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}[CONFIG.pop("backend", "core")]
settings.configure(CHANNEL_LAYERS={"default": {"BACKEND": BACKEND, "CONFIG": CONFIG}}, INSTALLED_APPS=[])
django.setup()

from channels.consumer import AsyncConsumer  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402
from channels.routing import ChannelNameRouter  # noqa: E402
from channels.testing import ApplicationCommunicator  # noqa: E402
from channels.worker import Worker  # noqa: E402


def to_json(value):
    if isinstance(value, bytes):
        return {"__bytes__": value.hex()}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def from_json(value):
    if isinstance(value, dict):
        if set(value) == {"__bytes__"}:
            return bytes.fromhex(value["__bytes__"])
        if set(value) == {"__tuple__"}:
            return tuple(from_json(v) for v in value["__tuple__"])
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class ProbeConsumer(AsyncConsumer):
    """A plain Django Channels consumer: reports what its handlers get."""

    async def probe_hello(self, message):
        if message.get("group"):
            await self.channel_layer.group_add(message["group"], self.channel_name)
        emit({"id": message["id"], "result": self.channel_name})

    async def chat_message(self, message):
        emit({"event": "consumer", "channel": self.channel_name, "message": to_json(message)})

    async def task_run(self, message):
        emit({"event": "consumer", "channel": "worker", "message": to_json(message)})


keep = []


async def handle(layer, command):
    op = command["op"]
    if op == "new_channel":
        return await layer.new_channel()
    if op == "send":
        return await layer.send(command["channel"], from_json(command["message"]))
    if op == "receive":
        try:
            return to_json(await asyncio.wait_for(layer.receive(command["channel"]), command.get("timeout", 5)))
        except asyncio.TimeoutError:
            return {"error": "timeout"}
    if op == "group_add":
        return await layer.group_add(command["group"], command["channel"])
    if op == "group_discard":
        return await layer.group_discard(command["group"], command["channel"])
    if op == "group_send":
        return await layer.group_send(command["group"], from_json(command["message"]))
    if op == "flush":
        return await layer.flush()
    if op == "consumer":
        communicator = ApplicationCommunicator(ProbeConsumer.as_asgi(), {"type": "channel"})
        keep.append(communicator)
        await communicator.send_input({"type": "probe.hello", "id": command["id"], "group": command.get("group")})
        return None  # the consumer answers
    if op == "worker":
        worker = Worker(
            application=ChannelNameRouter({command["channel"]: ProbeConsumer.as_asgi()}),
            channels=[command["channel"]],
            channel_layer=layer,
        )
        keep.append(asyncio.ensure_future(worker.handle()))
        keep.append(asyncio.ensure_future(worker.application_checker()))
        await asyncio.sleep(0.2)
        return "started"
    raise ValueError(f"unknown op {op}")


async def run_command(layer, command):
    try:
        result = await handle(layer, command)
        if command["op"] != "consumer":
            emit({"id": command["id"], "result": result})
    except Exception as error:  # reported to the test
        emit({"id": command["id"], "error": f"{type(error).__name__}: {error}"})


async def main():
    layer = get_channel_layer()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    emit({"event": "ready"})
    tasks = set()
    while True:
        line = await reader.readline()
        if not line:
            break
        task = asyncio.ensure_future(run_command(layer, json.loads(line)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)


asyncio.run(main())
