#!/usr/bin/env python3
"""Reference side of the MessagePack codec agreement test.

Uses the `msgpack` package (the reference implementation) to

  generate --seed S --count N --out FILE
      write a corpus of packed values (deterministic edge cases first, then at
      least N random values per category), and

  check --in FILE
      verify a corpus re-encoded by the Swift encoder: every record must unpack,
      and re-packing it with the reference packer must give the same bytes
      ("byteExact") or at least the same value ("valueOnly", e.g. a float32 or a
      non-minimal integer width); anything else is a failure.

FILE format: a sequence of records, each a 4-byte big-endian length followed by
that many bytes (one packed MessagePack value).

Both subcommands print a one-line JSON summary on stdout; `check` exits 1 if any
record fails.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import struct
import sys

try:
    import msgpack
except ImportError:  # pragma: no cover - environment problem
    sys.exit("msgpack_agreement: the 'msgpack' package is missing (run scripts/bootstrap)")

ExtType = msgpack.ExtType
Timestamp = msgpack.Timestamp


def make_ext(code: int, data: bytes) -> ExtType:
    """ExtType without msgpack's 0..127 check: the format allows any code in
    -128..127 (-1 is the timestamp), but msgpack.ExtType() rejects negative
    codes. The packer handles such instances fine."""
    return tuple.__new__(ExtType, (code, data))

CATEGORIES = (
    "nil", "bool", "posint", "negint", "float64", "str", "bin",
    "array", "map", "ext", "timestamp", "nested",
)

EDGE_LENGTHS = (0, 31, 32, 255, 256, 65535, 65536)
CONTAINER_EDGE_LENGTHS = (0, 15, 16, 65535, 65536)
EXT_EDGE_LENGTHS = (0, 1, 2, 3, 4, 8, 16, 17, 255, 256, 65536)
POS_INT_EDGES = (
    0, 1, 31, 32, 127, 128, 255, 256, 65535, 65536,
    2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**53, 2**63 - 1, 2**63, 2**64 - 1,
)
NEG_INT_EDGES = (
    -1, -31, -32, -33, -127, -128, -129, -32767, -32768, -32769,
    -2**31 + 1, -2**31, -2**31 - 1, -2**53, -2**63 + 1, -2**63,
)
FLOAT_EDGES = (
    0.0, -0.0, 1.0, -1.0, 0.5, 1.5, 0.1, -0.1, 1.0 / 3.0,
    math.inf, -math.inf, math.nan,
    5e-324, -5e-324,                      # smallest subnormal
    2.2250738585072009e-308,              # largest subnormal
    2.2250738585072014e-308,              # smallest normal
    1.7976931348623157e308, -1.7976931348623157e308,  # max finite
    1.401298464324817e-45, 3.4028234663852886e38,     # float32 min subnormal / max
    float(2**53), float(2**53 + 2), float(2**63), float(2**64), -float(2**63),
    1e-300, 1e300, 123456789.125, math.pi, -math.e,
)
TIMESTAMP_EDGES = (
    # 32-bit form: 0 <= sec < 2**32, ns == 0
    (0, 0), (1, 0), (2**31, 0), (2**32 - 1, 0),
    # 64-bit form: ns != 0 or 2**32 <= sec < 2**34
    (0, 1), (2**32, 0), (1, 999_999_999), (2**32 - 1, 1), (2**34 - 1, 0), (2**34 - 1, 999_999_999),
    # 96-bit form: sec < 0 or sec >= 2**34
    (2**34, 0), (2**34, 1), (-1, 0), (-1, 999_999_999), (-2**62, 500),
    (2**63 - 1, 999_999_999), (-2**63, 0), (-2**63, 999_999_999),
)

MAX_DEPTH = 6
# Budget (bytes, roughly) for the rare *random* large values; keeps the file
# well under ~60 MB whatever --count is. Edge cases are always written.
LARGE_BUDGET = 36_000_000
# Past this many bytes written, random values are drawn small only (so a large
# --count still gives a file of roughly this size plus ~100 bytes a record).
SMALL_ONLY_AFTER = 40_000_000
MAX_FILE_BYTES = 60_000_000


# --------------------------------------------------------------------------
# generation
# --------------------------------------------------------------------------

# Code point ranges for random non-ASCII text (never surrogates D800-DFFF).
_CP_RANGES = (
    (0x20, 0x7E, 30),         # printable ASCII
    (0x00, 0x1F, 2),          # control characters
    (0x80, 0x7FF, 20),        # 2-byte UTF-8
    (0x800, 0xD7FF, 20),      # 3-byte UTF-8, below surrogates
    (0xE000, 0xFFFF, 8),      # 3-byte UTF-8, above surrogates (incl. U+FFFF, U+FEFF)
    (0x10000, 0x10FFFF, 20),  # 4-byte UTF-8
)


class Gen:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.large_left = LARGE_BUDGET
        self.small_only = False
        rng = self.rng
        weights = [w for _, _, w in _CP_RANGES]
        picks = rng.choices(_CP_RANGES, weights=weights, k=120_000)
        self.pool = "".join(chr(rng.randint(lo, hi)) for lo, hi, _ in picks)
        self.ascii_pool = "".join(chr(rng.randint(0x20, 0x7E)) for _ in range(80_000))

    # -- sizes ---------------------------------------------------------------
    def _length(self, large_unit: int = 1) -> int:
        """Random length: mostly small, sometimes medium, rarely > 65535."""
        rng = self.rng
        r = rng.random()
        if r < 0.55 or self.small_only:
            return rng.randint(0, 31)
        if r < 0.85:
            return rng.randint(32, 255)
        if r < 0.97:
            return rng.randint(256, 4096)
        n = rng.choice((rng.randint(4097, 65535), 65535, 65536, rng.randint(65537, 70000)))
        cost = n * large_unit
        if cost <= self.large_left:
            self.large_left -= cost
            return n
        return rng.randint(256, 4096)

    def _container_length(self) -> tuple[int, bool]:
        """Random container length, and whether it is a (rare) large one."""
        rng = self.rng
        r = rng.random()
        if self.small_only:
            return int(r * 16), False
        if r < 0.75:
            return int(r / 0.75 * 16), False          # 0..15 (fixarray/fixmap)
        if r < 0.97:
            return rng.randint(16, 200), False
        if r < 0.998:
            return rng.randint(201, 2000), False
        n = rng.choice((65535, 65536, rng.randint(65537, 68000)))
        if n * 4 <= self.large_left:
            self.large_left -= n * 4
            return n, True
        return rng.randint(201, 2000), False

    # -- scalars -------------------------------------------------------------
    _POS_BITS = (5, 7, 8, 16, 32, 64, 64)
    _NEG_BITS = (5, 7, 8, 15, 16, 31, 32, 63, 63)

    def posint(self) -> int:
        """0 .. 2**64-1, spread over all encodings."""
        bits = self._POS_BITS[int(self.rng.random() * len(self._POS_BITS))]
        return self.rng.getrandbits(bits)

    def negint(self) -> int:
        """-2**63 .. -1, spread over all encodings."""
        bits = self._NEG_BITS[int(self.rng.random() * len(self._NEG_BITS))]
        return -1 - self.rng.getrandbits(bits)

    def int_any(self) -> int:
        return self.posint() if self.rng.random() < 0.6 else self.negint()

    def float64(self) -> float:
        rng = self.rng
        r = rng.random()
        if r < 0.4:
            while True:  # random bit pattern, any non-NaN
                (f,) = struct.unpack(">d", rng.getrandbits(64).to_bytes(8, "big"))
                if not math.isnan(f):
                    return f
        if r < 0.6:
            return rng.uniform(-1e6, 1e6)
        if r < 0.75:
            return float(rng.randint(-2**53, 2**53))
        if r < 0.9:  # exactly representable as float32 (still packed as float64)
            (f,) = struct.unpack(">f", struct.pack(">f", rng.uniform(-1e4, 1e4)))
            return f
        return rng.choice(FLOAT_EDGES)

    def text_exact(self, nbytes: int, ascii_only: bool) -> str:
        """A str whose UTF-8 encoding is exactly nbytes long."""
        if ascii_only:
            start = self.rng.randrange(0, len(self.ascii_pool) - nbytes) if nbytes < len(self.ascii_pool) else 0
            s = self.ascii_pool[start:start + nbytes]
            return s + "x" * (nbytes - len(s))
        pool = self.pool
        i = self.rng.randrange(len(pool))
        out = []
        left = nbytes
        while left >= 4:
            c = pool[i % len(pool)]
            i += 1
            out.append(c)
            left -= len(c.encode("utf-8"))
        if left >= 2:
            out.append(chr(self.rng.randint(0x800, 0xD7FF)) if left == 3 else chr(self.rng.randint(0x80, 0x7FF)))
            left = 0
        out.append("y" * left)
        s = "".join(out)
        assert len(s.encode("utf-8")) == nbytes
        return s

    def text(self, n: int | None = None) -> str:
        rng = self.rng
        if n is None:
            n = self._length(large_unit=2)
        pool = self.ascii_pool if rng.random() < 0.5 else self.pool
        if n >= len(pool):
            return (pool * (n // len(pool) + 1))[:n]
        start = rng.randrange(0, len(pool) - n + 1)
        return pool[start:start + n]

    def binary(self, n: int | None = None) -> bytes:
        if n is None:
            n = self._length()
        return self.rng.randbytes(n)

    def ext_code(self) -> int:
        c = self.rng.randint(-128, 126)
        return c + 1 if c >= -1 else c  # never -1 (timestamp)

    def ext(self, n: int | None = None) -> ExtType:
        rng = self.rng
        if n is None:
            if rng.random() < 0.4:
                n = rng.choice((1, 2, 4, 8, 16))  # fixext sizes
            else:
                n = self._length()
        return make_ext(self.ext_code(), rng.randbytes(n))

    def timestamp(self) -> Timestamp:
        rng = self.rng
        form = rng.randint(0, 2)
        if form == 0:
            return Timestamp(rng.randint(0, 2**32 - 1), 0)
        if form == 1:
            if rng.random() < 0.2:
                return Timestamp(rng.randint(2**32, 2**34 - 1), 0)
            return Timestamp(rng.randint(0, 2**34 - 1), rng.randint(1, 999_999_999))
        if rng.random() < 0.5:
            sec = -rng.randint(1, 2**rng.choice((8, 32, 63)))
        else:
            sec = rng.randint(2**34, 2**rng.choice((35, 40, 63)) - 1)
        return Timestamp(sec, rng.randint(0, 999_999_999))

    def scalar(self):
        rng = self.rng
        k = int(rng.random() * 11)
        if k == 0:
            return None
        if k == 1:
            return rng.random() < 0.5
        if k in (2, 3):
            return self.int_any()
        if k == 4:
            return self.float64()
        if k in (5, 6):
            return self.text(int(rng.random() * 41))
        if k == 7:
            return self.binary(int(rng.random() * 41))
        if k == 8:
            return self.ext(rng.choice((0, 1, 2, 4, 8, 16, 3, 20)))
        if k == 9:
            return self.timestamp()
        return math.nan if rng.random() < 0.05 else self.float64()

    def key(self):
        """A hashable map key: str, int, bool, None, float (not NaN) or bytes."""
        rng = self.rng
        k = int(rng.random() * 10)
        if k < 4:
            return self.text(int(rng.random() * 25))
        if k < 6:
            return self.int_any()
        if k == 6:
            return rng.random() < 0.5
        if k == 7:
            return None
        if k == 8:
            f = self.float64()
            return 0.25 if math.isnan(f) else f
        return self.binary(int(rng.random() * 25))

    # -- containers ----------------------------------------------------------
    def make_map(self, n: int, value) -> dict:
        """n distinct keys (distinct under Python equality, so no collisions)."""
        d = {}
        tries = 0
        while len(d) < n:
            tries += 1
            if tries > 4 * n + 100:
                # fall back to guaranteed-unique keys
                k = f"k{len(d)}:{tries}"
            else:
                k = self.key()
            if k in d:
                continue
            d[k] = value()
        return d

    def small_int(self) -> int:
        return int(self.rng.random() * 300) - 40

    def array(self):
        n, large = self._container_length()
        return [(self.small_int() if large else self.scalar()) for _ in range(n)]

    def map(self):
        n, large = self._container_length()
        if large:  # ints and strs never collide
            return {(i if i % 2 else f"k{i}"): self.scalar() if i % 97 == 0 else self.small_int() for i in range(n)}
        return self.make_map(n, self.scalar)

    def nested(self, depth: int = 1, budget: list | None = None):
        """Random tree, containers nested at most MAX_DEPTH deep."""
        rng = self.rng
        if budget is None:
            budget = [rng.randint(1, 20 if self.small_only else 200)]
        budget[0] -= 1
        if depth > MAX_DEPTH or budget[0] <= 0 or (depth > 1 and rng.random() < 0.35):
            return self.scalar()
        n = rng.randint(0, 6) if rng.random() < 0.9 else rng.randint(7, 20)
        child = lambda: self.nested(depth + 1, budget)  # noqa: E731
        if rng.random() < 0.5:
            return [child() for _ in range(n)]
        return self.make_map(n, child)


def _edge_cases(g: Gen) -> dict[str, list]:
    rng = g.rng
    e: dict[str, list] = {c: [] for c in CATEGORIES}
    e["nil"] = [None]
    e["bool"] = [False, True]
    e["posint"] = list(POS_INT_EDGES)
    e["negint"] = list(NEG_INT_EDGES)
    e["float64"] = list(FLOAT_EDGES)
    for n in EDGE_LENGTHS:
        e["str"].append(g.text_exact(n, ascii_only=True))
        e["str"].append(g.text_exact(n, ascii_only=False))
        e["bin"].append(g.binary(n))
    e["str"] += ["\u00e9", "\u20ac", "\U0001F600", "\uFFFF", "\uFEFFbom", "\x00nul\x00", "\U0010FFFF"]
    for n in CONTAINER_EDGE_LENGTHS:
        if n <= 16:
            e["array"].append([g.scalar() for _ in range(n)])
            e["map"].append(g.make_map(n, g.scalar))
        else:
            e["array"].append([rng.randint(-40, 200) for _ in range(n)])
            e["array"].append([g.scalar() for _ in range(n)] if n == 65536 else [None] * n)
            # unique keys: ints and strs never collide
            e["map"].append({(i if i % 2 else f"k{i}"): rng.randint(0, 300) for i in range(n)})
    for n in EXT_EDGE_LENGTHS:
        e["ext"].append(make_ext(g.ext_code(), rng.randbytes(n)))
    e["ext"] += [make_ext(-128, b""), make_ext(127, b"\x01"), make_ext(0, b"\x00" * 8), make_ext(-2, b"ab")]
    e["timestamp"] = [Timestamp(s, ns) for s, ns in TIMESTAMP_EDGES]
    # nested: chains exactly MAX_DEPTH containers deep, and a mixed sample
    deep_a: object = 1
    deep_m: object = "leaf"
    for i in range(MAX_DEPTH):
        deep_a = [deep_a]
        deep_m = {f"d{i}": deep_m, i: None}
    e["nested"] = [
        deep_a, deep_m, [], {}, [[]], [{}], {"": {}},
        {"a": [1, 2.5, None, True, b"\x00", Timestamp(1, 1), ExtType(5, b"x")],
         7: {False: [], None: {}, 0.5: "half", b"k": [[[]]]}},
    ]
    return e


def _random_value(g: Gen, cat: str):
    rng = g.rng
    if cat == "nil":
        return None
    if cat == "bool":
        return rng.random() < 0.5
    if cat == "posint":
        return g.posint()
    if cat == "negint":
        return g.negint()
    if cat == "float64":
        return g.float64()
    if cat == "str":
        return g.text()
    if cat == "bin":
        return g.binary()
    if cat == "array":
        return g.array()
    if cat == "map":
        return g.map()
    if cat == "ext":
        return g.ext()
    if cat == "timestamp":
        return g.timestamp()
    if cat == "nested":
        return g.nested()
    raise AssertionError(cat)


def cmd_generate(args) -> int:
    g = Gen(args.seed)
    edges = _edge_cases(g)
    counts = {c: 0 for c in CATEGORIES}
    total = 0
    records = 0
    packb = msgpack.packb
    pack_len = struct.Struct(">I").pack
    with open(args.out, "wb") as f:
        for cat in CATEGORIES:
            values = edges[cat]
            for i in range(len(values) + args.count):
                v = values[i] if i < len(values) else _random_value(g, cat)
                b = packb(v)
                f.write(pack_len(len(b)))
                f.write(b)
                total += 4 + len(b)
                if total > SMALL_ONLY_AFTER:
                    g.small_only = True
                counts[cat] += 1
                records += 1
    if total > MAX_FILE_BYTES:
        print(f"msgpack_agreement: warning: corpus is {total} bytes (> {MAX_FILE_BYTES})", file=sys.stderr)
    print(json.dumps({"records": records, "bytes": total, "categories": counts}, separators=(",", ":")))
    return 0


# --------------------------------------------------------------------------
# checking
# --------------------------------------------------------------------------

def norm(v):
    """Hashable, type-strict normal form of an unpacked value.

    Distinguishes bool from int, -0.0 from 0.0 and float from int; all NaNs are
    equal to each other. float32 values decoded by msgpack are Python floats,
    so they equal their float64 re-encoding.
    """
    if v is None:
        return ("nil",)
    t = type(v)
    if t is bool:
        return ("bool", v)
    if t is int:
        return ("int", v)
    if t is float:
        if v != v:
            return ("float", "nan")
        return ("float", struct.pack(">d", v))
    if t is str:
        return ("str", v)
    if t is bytes:
        return ("bin", v)
    if t is StrictKey:
        return v.n
    if t is ExtType:
        return ("ext", v.code, bytes(v.data))
    if t is Timestamp:
        return ("ts", v.seconds, v.nanoseconds)
    if t is tuple or t is list:
        return ("arr", tuple(norm(x) for x in v))
    if t is dict:
        return ("map", tuple((norm(k), norm(x)) for k, x in v.items()))
    raise TypeError(f"unexpected type {t.__name__}")


class StrictKey:
    """Map key wrapper: keys compare type-strictly (1, True and 1.0 differ),
    and any unpacked value (even a map) can be a key. Unwrapped again by the
    packer's `default` hook, so repacking gives the original key bytes."""

    __slots__ = ("v", "n", "h")

    def __init__(self, v):
        self.v = v
        self.n = norm(v)
        self.h = hash(self.n)

    def __hash__(self):
        return self.h

    def __eq__(self, other):
        return type(other) is StrictKey and self.n == other.n


class DuplicateKey(ValueError):
    pass


def _pairs_hook(pairs):
    d = {StrictKey(k): v for k, v in pairs}
    if len(d) != len(pairs):
        seen = set()
        for k, _ in pairs:
            sk = StrictKey(k)
            if sk in seen:
                raise DuplicateKey(f"duplicate map key {k!r:.80}")
            seen.add(sk)
    return d


def _unwrap(o):
    if type(o) is StrictKey:
        return o.v
    raise TypeError(f"cannot pack {type(o).__name__}")


def _describe(ex: BaseException) -> str:
    return f"{type(ex).__name__}: {ex}" if str(ex) else type(ex).__name__


def _unpack(b):
    return msgpack.unpackb(
        b, raw=False, strict_map_key=False, timestamp=0, use_list=False,
        object_pairs_hook=_pairs_hook, ext_hook=make_ext,
    )


def cmd_check(args) -> int:
    with open(args.inp, "rb") as f:
        data = f.read()
    mv = memoryview(data)
    n = len(data)
    pos = 0
    records = byte_exact = value_only = failures = 0
    first: list[dict] = []
    packer = msgpack.Packer(default=_unwrap)

    def fail(index, raw, error):
        nonlocal failures
        failures += 1
        if len(first) < 5:
            first.append({"index": index, "hex": bytes(raw[:64]).hex(), "error": error})

    while pos < n:
        if pos + 4 > n:
            fail(records, mv[pos:], f"truncated length prefix at offset {pos}")
            break
        (length,) = struct.unpack_from(">I", data, pos)
        pos += 4
        if pos + length > n:
            fail(records, mv[pos:], f"record of {length} bytes overruns the file at offset {pos}")
            break
        b = mv[pos:pos + length]
        pos += length
        index = records
        records += 1
        try:
            v = _unpack(b)
        except Exception as ex:  # noqa: BLE001 - any reason is a failure
            fail(index, b, "unpack: " + _describe(ex))
            continue
        try:
            again = packer.pack(v)
        except Exception as ex:  # noqa: BLE001
            fail(index, b, "repack: " + _describe(ex))
            continue
        if again == b:
            byte_exact += 1
            continue
        try:
            if norm(_unpack(again)) == norm(v):
                value_only += 1
                continue
            fail(index, b, f"value changed on reference round trip; reference bytes {again[:64].hex()}")
        except Exception as ex:  # noqa: BLE001
            fail(index, b, "compare: " + _describe(ex))

    if records == 0 and failures == 0:
        fail(0, b"", "no records in file")
    print(json.dumps({
        "records": records, "byteExact": byte_exact, "valueOnly": value_only,
        "failures": failures, "firstFailures": first,
    }, separators=(",", ":")))
    return 1 if failures else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate", help="write a reference corpus")
    g.add_argument("--seed", type=int, required=True)
    g.add_argument("--count", type=int, required=True, help="random values per category (after edge cases)")
    g.add_argument("--out", required=True)
    c = sub.add_parser("check", help="check a corpus produced by another encoder")
    c.add_argument("--in", dest="inp", required=True)
    args = p.parse_args(argv)
    if args.cmd == "generate":
        return cmd_generate(args)
    return cmd_check(args)


if __name__ == "__main__":
    sys.exit(main())
