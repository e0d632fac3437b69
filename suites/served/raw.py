"""A WebSocket spoken by hand: frames no library would send, closes never answered, data never read."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import struct
from dataclasses import dataclass

from suites.served.client import FRAME_TIMEOUT

TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0


@dataclass(frozen=True)
class Frame:
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        return struct.unpack("!H", self.payload[:2])[0] if self.opcode == CLOSE and self.payload else None


def encode_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
    length: int | None = None,
) -> bytes:
    """One frame as RFC 6455 lays it out; any field may be wrong on purpose (`length` may lie)."""
    size = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mask_bit = 0x80 if masked else 0
    if size < 126:
        head += bytes([mask_bit | size])
    elif size < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", size)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))


class RawSocket:
    """A hand-made WebSocket connection to the served app.

    `open()` does the HTTP upgrade and keeps the answer's status (101 when upgraded). With
    `receive_buffer` the socket asks the kernel for a small receive window and the client keeps at most
    that much unread in the process: a client that never reads.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, status: int) -> None:
        self.reader, self.writer, self.status = reader, writer, status

    @classmethod
    async def open(
        cls,
        port: int,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        receive_buffer: int | None = None,
    ) -> RawSocket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=receive_buffer or 2**16)
        fields = {
            "Host": f"127.0.0.1:{port}",
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
            "Sec-WebSocket-Version": "13",
            **(headers or {}),  # may replace any of the above, Host included
        }
        lines = [f"GET {path} HTTP/1.1", *(f"{name}: {value}" for name, value in fields.items())]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        async with asyncio.timeout(FRAME_TIMEOUT):
            answer = await reader.readuntil(b"\r\n\r\n")
        return cls(reader, writer, int(answer.split(b" ", 2)[1]))

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send_frame(self, opcode: int, payload: bytes = b"", **fields) -> None:
        await self.send(encode_frame(opcode, payload, **fields))

    async def recv_frame(self, timeout: float = FRAME_TIMEOUT) -> Frame | None:
        """The next frame from the server (unfragmented, unmasked), or None once it closed the TCP stream."""
        async with asyncio.timeout(timeout):
            try:
                first, second = await self.reader.readexactly(2)
            except asyncio.IncompleteReadError:
                return None
            size = second & 0x7F
            if size == 126:
                size = struct.unpack("!H", await self.reader.readexactly(2))[0]
            elif size == 127:
                size = struct.unpack("!Q", await self.reader.readexactly(8))[0]
            return Frame(first & 0x0F, await self.reader.readexactly(size))

    async def close_code(self, timeout: float = FRAME_TIMEOUT) -> int | None:
        """Read to the server's close frame and return its code, skipping the frames before it."""
        async with asyncio.timeout(timeout):
            while (frame := await self.recv_frame()) is not None:
                if frame.opcode == CLOSE:
                    return frame.close_code
        return None

    def abort(self) -> None:
        """Drop the connection without a close handshake (a client that vanished)."""
        self.writer.transport.abort()

    async def aclose(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
