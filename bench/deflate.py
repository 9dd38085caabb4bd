"""What permessage-deflate costs on our frames: CPU per frame and bytes saved, in process.

How it works: a stream of ``next`` frames shaped like the fan-out's (one ticker update,
~170 bytes of JSON, prices and timestamps changing from frame to frame) is framed by
websockets' own code, as the server's uvicorn does it, with and without the
permessage-deflate extension uvicorn negotiates (12-bit window, memLevel 5, context
takeover). The cost is per frame *and per subscriber*: compression keeps a context per
connection, so an identical frame is compressed again for every socket. The end-to-end
counterpart is the fan-out's ``ours, deflate on/off`` contender.
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime
from typing import Any

from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode

from bench.report import Row


def frames(count: int, seed: int = 0) -> list[bytes]:
    """``count`` distinct ``next`` messages of the fan-out's shape, UTF-8 encoded."""
    rng = random.Random(seed)
    out = []
    ts = 1_795_348_800_000
    for i in range(count):
        bid = rng.randint(20, 78) / 100
        ts += rng.randint(1, 60)
        update = {
            "marketTicker": f"KXNBAGAME-26NOV22BOSLAL-{'BOS' if i % 2 else 'LAL'}",
            "price": round(bid + 0.01, 2),
            "yesBid": bid,
            "yesAsk": round(bid + 0.02, 2),
            "ts": datetime.fromtimestamp(ts / 1000, UTC).isoformat(),
        }
        message = {"id": "1", "type": "next", "payload": {"data": {"tickerUpdates": update}}}
        out.append(json.dumps(message, separators=(",", ":")).encode())
    return out


def _deflate() -> PerMessageDeflate:
    return PerMessageDeflate(
        remote_no_context_takeover=False,
        local_no_context_takeover=False,
        remote_max_window_bits=12,
        local_max_window_bits=12,
        compress_settings={"memLevel": 5},
    )


def _frame_all(payloads: list[bytes], deflate: bool) -> tuple[float, int]:
    """Seconds per frame and wire bytes, framing every payload on one connection."""
    extensions = [_deflate()] if deflate else []
    wire = 0
    started = time.perf_counter()
    for data in payloads:
        wire += len(Frame(Opcode.TEXT, data).serialize(mask=False, extensions=extensions))
    return (time.perf_counter() - started) / len(payloads), wire


async def deflate_section(count: int) -> tuple[list[Row], dict[str, Any]]:
    payloads = frames(count)
    _frame_all(payloads[:100], True)  # warm up
    plain_s, plain_bytes = min(_frame_all(payloads, False) for _ in range(3))
    deflate_s, deflate_bytes = min(_frame_all(payloads, True) for _ in range(3))
    rows = [
        Row.of("permessage-deflate: CPU per frame", deflate_s * 1e6, "us", plain_s * 1e6),
        Row.of(
            "permessage-deflate: bytes per frame", deflate_bytes / count, "B", plain_bytes / count
        ),
    ]
    raw = {
        "frames": count,
        "payload_bytes": sum(map(len, payloads)) / count,
        "plain_us": round(plain_s * 1e6, 2),
        "deflate_us": round(deflate_s * 1e6, 2),
    }
    return rows, raw
