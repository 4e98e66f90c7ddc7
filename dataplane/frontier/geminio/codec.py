"""geminio packets: dataclasses, encoding, and an incremental frame reader.

Sans-I/O: bytes in, packets out, and back. Every frame is a 14-byte big-endian header
(version, type, packet ID, body length) and a per-type body of a few fixed fields followed by
a Go `encoding/json` document or raw bytes (see `geminio-wire.md` §A).

This module is the stable import point; the work is split by job:

- `packets`: wire constants, `PacketType`, one frozen dataclass per packet type;
- `documents`: the JSON documents inside bodies, with Go's `encoding/json` rules;
- `encoder`: packet → frame bytes (`encode`, `encoded_parts`, `encode_into`, `stream_header`);
- `decoder`: one complete frame → packet (`decode_frame`) and the per-type length rules;
- `reader`: `FrameReader`, the incremental decoder fed arbitrary chunks.

Decoding is defensive where Go's is not: Go panics or allocates 4 GiB on short or oversized
bodies, we raise a typed `ProtocolError` after looking only at the header, so a hostile peer
can neither crash the process nor make it buffer more than the 10 MiB cap. Encoding is
conservative: it refuses (`EncodeError`) anything a Go peer could not decode, so such frames
are impossible by construction.
"""

from __future__ import annotations

from .decoder import decode_frame
from .encoder import encode, encode_into, encoded_parts, stream_header
from .packets import (
    CANCEL_CANCELED,
    CANCEL_DEADLINE_EXCEEDED,
    HEADER_LEN,
    HEARTBEAT_INTERVALS,
    MAX_PACKET_LEN,
    RET_ERR,
    RET_OK,
    VERSION,
    ConnAckPacket,
    ConnPacket,
    DisConnAckPacket,
    DisConnPacket,
    DismissAckPacket,
    DismissPacket,
    HeartbeatAckPacket,
    HeartbeatPacket,
    MessageAckPacket,
    MessagePacket,
    Packet,
    PacketType,
    RegisterAckPacket,
    RegisterPacket,
    RequestCancelPacket,
    RequestPacket,
    ResponsePacket,
    SessionAckPacket,
    SessionPacket,
    StreamPacket,
)
from .reader import FrameReader

__all__ = [
    "CANCEL_CANCELED",
    "CANCEL_DEADLINE_EXCEEDED",
    "HEADER_LEN",
    "HEARTBEAT_INTERVALS",
    "MAX_PACKET_LEN",
    "RET_ERR",
    "RET_OK",
    "VERSION",
    "ConnAckPacket",
    "ConnPacket",
    "DisConnAckPacket",
    "DisConnPacket",
    "DismissAckPacket",
    "DismissPacket",
    "FrameReader",
    "HeartbeatAckPacket",
    "HeartbeatPacket",
    "MessageAckPacket",
    "MessagePacket",
    "Packet",
    "PacketType",
    "RegisterAckPacket",
    "RegisterPacket",
    "RequestCancelPacket",
    "RequestPacket",
    "ResponsePacket",
    "SessionAckPacket",
    "SessionPacket",
    "StreamPacket",
    "decode_frame",
    "encode",
    "encode_into",
    "encoded_parts",
    "stream_header",
]
