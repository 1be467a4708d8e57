import json

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


def whoami(request):
    user = request.user
    return JsonResponse({"username": user.username if user.is_authenticated else None})


@csrf_exempt
@require_POST
def send(request):
    """Sends the JSON body {"layer", "group", "message"} to a group, as any Django view would."""
    body = json.loads(request.body)
    layer = get_channel_layer(body.get("layer", "default"))
    async_to_sync(layer.group_send)(body["group"], body["message"])
    return HttpResponse("sent")
