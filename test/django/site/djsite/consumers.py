from channels.generic.websocket import AsyncJsonWebsocketConsumer


class Listen(AsyncJsonWebsocketConsumer):
    """Joins the group of its URL on the layer of its URL and forwards chat.message events."""

    async def connect(self):
        self.group = self.scope["url_route"]["kwargs"]["group"]
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "ready"})

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def chat_message(self, event):
        await self.send_json(event)


class ListenPubsub(Listen):
    channel_layer_alias = "pubsub"
