"""The Channels tutorial's chat consumer, with the same protocol as the Switchyard chat example."""
import json

from channels.generic.websocket import AsyncWebsocketConsumer

ESTABLISHED = json.dumps({"type": "connection_established", "message": "Connected to chat room"})


class ChatConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.room_group_name = "chat_" + self.scope["url_route"]["kwargs"]["room_name"]
        await self.channel_layer.group_add(self.room_group_name, self.channel_name)
        await self.accept()
        await self.send(text_data=ESTABLISHED)

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.room_group_name, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            content = json.loads(text_data)
        except (TypeError, ValueError):
            await self.send(text_data=json.dumps({"type": "error", "message": "Invalid JSON format"}))
            return
        message = content.get("message")
        if not isinstance(message, str) or not message or len(message) > 1000:
            await self.send(text_data=json.dumps({"type": "error", "message": "Invalid message"}))
            return
        username = content.get("username") or "Anonymous"
        await self.channel_layer.group_send(
            self.room_group_name, {"type": "chat_message", "message": message, "username": username}
        )

    async def chat_message(self, event):
        await self.send(text_data=json.dumps({"message": event["message"], "username": event["username"]}))
