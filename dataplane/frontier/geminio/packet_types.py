"""The packet type byte (geminio-wire.md §A.2): a module of its own so that both packet
modules, `packets` (frozen dataclasses, interpreted) and `message_packets` (the plain
classes built per frame, compiled), can name it.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["PacketType"]


class PacketType(IntEnum):
    CONN = 0x01
    CONN_ACK = 0x02
    DISCONN = 0x11
    DISCONN_ACK = 0x12
    HEARTBEAT = 0x21
    HEARTBEAT_ACK = 0x22
    SESSION = 0x31
    SESSION_ACK = 0x32
    DISMISS = 0x41
    DISMISS_ACK = 0x42
    MESSAGE = 0x51
    MESSAGE_ACK = 0x52
    STREAM = 0x61
    REQUEST = 0x71
    RESPONSE = 0x72
    REQUEST_CANCEL = 0x73
    REGISTER = 0x81
    REGISTER_ACK = 0x82
