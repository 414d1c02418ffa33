"""Serialising events to landing files, column-at-a-time.

Lines are assembled with Arrow's element-wise string join, timestamps and UUIDs are
formatted with integer arithmetic on byte arrays, and a file's bytes are cut straight out
of the joined array's value buffer. Nothing loops over events in Python.
"""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

DAY_MS = 86_400_000
_HEX = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), np.uint8).reshape(256, 2)


def _fixed_to_str(a: np.ndarray) -> pa.Array:
    n, w = a.shape
    return pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(w), n, [None, pa.py_buffer(np.ascontiguousarray(a).tobytes())]).cast(pa.string())


def uuid4_strings(raw: np.ndarray) -> pa.Array:
    """RFC 4122 version-4 UUID strings from rows of 16 random bytes."""
    u = raw.copy()
    u[:, 6] = (u[:, 6] & 0x0F) | 0x40
    u[:, 8] = (u[:, 8] & 0x3F) | 0x80
    h = _HEX[u].reshape(len(u), 32)
    out = np.full((len(u), 36), ord("-"), np.uint8)
    out[:, 0:8], out[:, 9:13], out[:, 14:18] = h[:, 0:8], h[:, 8:12], h[:, 12:16]
    out[:, 19:23], out[:, 24:36] = h[:, 16:20], h[:, 20:32]
    return _fixed_to_str(out)


def iso_ms(ms: np.ndarray) -> pa.Array:
    """`2026-03-01T20:15:03.250Z` for UTC epoch milliseconds."""
    ms = np.asarray(ms, dtype=np.int64)
    n = len(ms)
    day = ms // DAY_MS
    rem = ms - day * DAY_MS
    if n == 0:
        return pa.array([], pa.string())
    d0 = int(day.min())
    table = np.array([str(np.datetime64(d0 + i, "D")) for i in range(int(day.max()) - d0 + 1)],
                     dtype="S10").view(np.uint8).reshape(-1, 10)
    out = np.empty((n, 24), np.uint8)
    out[:, :10] = table[day - d0]
    parts = (rem // 3_600_000, rem // 60_000 % 60, rem // 1000 % 60)
    for i, v in enumerate(parts):
        out[:, 11 + 3 * i] = 48 + v // 10
        out[:, 12 + 3 * i] = 48 + v % 10
    f = rem % 1000
    out[:, 20], out[:, 21], out[:, 22] = 48 + f // 100, 48 + f // 10 % 10, 48 + f % 10
    out[:, 10], out[:, 13], out[:, 16], out[:, 19], out[:, 23] = (ord(c) for c in "T::.Z")
    return _fixed_to_str(out)


def seconds_str(ms: np.ndarray) -> pa.Array:
    """Milliseconds as a JSON number of seconds with three decimals: 1234.500."""
    ms = np.asarray(ms, dtype=np.int64)
    whole = pc.cast(pa.array(ms // 1000), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(ms % 1000), pa.string()), 3, "0")
    return pc.binary_join_element_wise(whole, frac, ".")


def event_lines(cols: dict[str, pa.Array]) -> pa.Array:
    """One JSON line (with its newline) per event. Field order follows the contract."""
    j = pc.binary_join_element_wise
    return j(
        '{"event_id":"', cols["event_id"], '","event_type":"', cols["event_type"],
        '","event_ts":"', cols["event_ts"], '","received_ts":"', cols["received_ts"],
        '","account_id":"', cols["account_id"], '","profile_id":"', cols["profile_id"],
        '","session_id":"', cols["session_id"], '","title_id":"', cols["title_id"],
        '","position_s":', cols["position_s"], ',"device_type":"', cols["device_type"],
        '","country":"', cols["country"], '","app_version":"', cols["app_version"],
        '","schema_version":1}\n', "",
    )


def array_bytes(arr: pa.Array) -> bytes:
    """The concatenated values of a string/binary array, without copying per element."""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    if len(arr) == 0:
        return b""
    offsets_type = np.int64 if pa.types.is_large_binary(arr.type) or pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(arr.buffers()[1], offsets_type)[arr.offset: arr.offset + len(arr) + 1]
    return arr.buffers()[2][int(offsets[0]):int(offsets[-1])].to_pybytes()


def line_ends(arr: pa.Array) -> np.ndarray:
    """Byte offset just after each line of the array's concatenated values."""
    offsets_type = np.int64 if pa.types.is_large_binary(arr.type) else np.int32
    offsets = np.frombuffer(arr.buffers()[1], offsets_type)[arr.offset: arr.offset + len(arr) + 1]
    return (offsets[1:] - offsets[0]).astype(np.int64)


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip: no file name and a zero timestamp in the header."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=5) as gz:
        gz.write(data)
    return buf.getvalue()


def complete_lines_in_truncated(gz_data: bytes) -> tuple[int, bool]:
    """How many full lines a reader recovers from a cut gzip stream, and whether a
    partial line follows them."""
    d = zlib.decompressobj(wbits=31)
    out = d.decompress(gz_data)
    n_full = out.count(b"\n")
    return n_full, not out.endswith(b"\n") and len(out) > 0


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
