#!/usr/bin/env python3
"""A client that is not ours: Debian's python3-websockets talks to the chat example.

Usage: python_client.py ws://127.0.0.1:PORT/ws/chat/ROOM/ NAME

Connects, expects the room's greeting, sends one chat line, waits for the
broadcast of that line, then waits for one line from another member (the
test sends it), and prints each step as a JSON line for the test to check.
"""
import asyncio
import json
import sys

import websockets


async def main(url: str, name: str) -> None:
    async with websockets.connect(url, open_timeout=10) as ws:
        greeting = json.loads(await asyncio.wait_for(ws.recv(), 10))
        print(json.dumps({"step": "greeting", "data": greeting}), flush=True)
        await ws.send(json.dumps({"message": f"hello from {name}", "username": name}))
        while True:
            event = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if event.get("username") == name:
                print(json.dumps({"step": "own", "data": event}), flush=True)
                break
        while True:
            event = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if event.get("username") not in (None, name):
                print(json.dumps({"step": "other", "data": event}), flush=True)
                break
        await ws.close(code=1000, reason="done")
        print(json.dumps({"step": "closed", "code": ws.close_code}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
