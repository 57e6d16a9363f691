#!/usr/bin/env python3
"""Reference MessagePack benchmark (msgpack's C extension).

    msgpack_bench.py [--seconds 1.0] FILE1 [FILE2 ...]

Each FILE holds one packed MessagePack message. For each file it measures

  decode: msgpack.unpackb(data, raw=False, strict_map_key=False)
  encode: msgpack.packb(obj)   (obj = the decoded message)

in tight loops of batches (1000 calls per batch, fewer only when one batch alone
would take much longer than the time given) until about --seconds have passed,
timed with time.perf_counter. Prints one JSON object:

  {"<basename>": {"bytes": n, "encodePerSecond": x, "decodePerSecond": y,
                  "encodeMBps": x*n/1e6, "decodeMBps": y*n/1e6}, ...}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

try:
    import msgpack
except ImportError:  # pragma: no cover - environment problem
    sys.exit("msgpack_bench: the 'msgpack' package is missing (run scripts/bootstrap)")


def require_c_extension() -> None:
    if os.environ.get("MSGPACK_PUREPYTHON"):
        sys.exit("msgpack_bench: MSGPACK_PUREPYTHON is set; the C extension is required")
    try:
        from msgpack import _cmsgpack
    except ImportError as ex:
        sys.exit(f"msgpack_bench: msgpack's C extension is not available ({ex}); refusing to benchmark the fallback")
    for name in ("Packer", "Unpacker", "unpackb"):
        if getattr(msgpack, name) is not getattr(_cmsgpack, name):
            sys.exit(f"msgpack_bench: msgpack.{name} is the pure-Python fallback, not msgpack._cmsgpack")
    if msgpack.Unpacker.__module__ != "msgpack._cmsgpack":
        sys.exit("msgpack_bench: msgpack.Unpacker is not from msgpack._cmsgpack")


def _batch_size(one_call: float, seconds: float) -> int:
    batch = 1000
    while batch > 1 and batch * one_call > seconds / 4:
        batch //= 10
    return batch


def decode_rate(data: bytes, seconds: float) -> float:
    """unpackb calls per second, in batches, no wrapper call in the loop."""
    unpackb = msgpack.unpackb
    clock = time.perf_counter
    t = clock()
    unpackb(data, raw=False, strict_map_key=False)  # warm-up / cost estimate
    r = range(_batch_size(clock() - t, seconds))
    calls = 0
    start = clock()
    deadline = start + seconds
    while True:
        for _ in r:
            unpackb(data, raw=False, strict_map_key=False)
        calls += len(r)
        now = clock()
        if now >= deadline:
            return calls / (now - start)


def encode_rate(obj, seconds: float) -> float:
    """packb calls per second, in batches, no wrapper call in the loop."""
    packb = msgpack.packb
    clock = time.perf_counter
    t = clock()
    packb(obj)
    r = range(_batch_size(clock() - t, seconds))
    calls = 0
    start = clock()
    deadline = start + seconds
    while True:
        for _ in r:
            packb(obj)
        calls += len(r)
        now = clock()
        if now >= deadline:
            return calls / (now - start)


def bench(path: str, seconds: float) -> dict:
    with open(path, "rb") as f:
        data = f.read()
    obj = msgpack.unpackb(data, raw=False, strict_map_key=False)
    dec = decode_rate(data, seconds)
    enc = encode_rate(obj, seconds)
    n = len(data)
    return {
        "bytes": n,
        "encodePerSecond": round(enc, 1),
        "decodePerSecond": round(dec, 1),
        "encodeMBps": round(enc * n / 1e6, 3),
        "decodeMBps": round(dec * n / 1e6, 3),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Reference MessagePack benchmark (msgpack C extension).")
    p.add_argument("--seconds", type=float, default=1.0, help="time per measurement (default 1.0)")
    p.add_argument("files", nargs="+", metavar="FILE", help="file holding one packed message")
    args = p.parse_args(argv)
    require_c_extension()
    out: dict[str, dict] = {}
    for path in args.files:
        key = os.path.basename(path)
        if key in out:  # two files with the same name: fall back to the path given
            key = path
        out[key] = bench(path, args.seconds)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
