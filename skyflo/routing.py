from chats.routing import websocket_urlpatterns as chat_websockets

websocket_urlpatterns = [*chat_websockets]
