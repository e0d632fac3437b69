"""Realtime layer: WebSocket consumers, auth and rate-limit middleware, broadcast helpers."""
