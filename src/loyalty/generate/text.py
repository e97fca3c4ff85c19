"""Arrow string and number columns built from numpy byte matrices, without Python objects per
row: zero-padded ids, ISO timestamps, amounts with two decimals, dictionary-encoded vocabulary
columns, and a right-aligned text buffer whose rows the bad-row step can overwrite.

Arrow arrays are built from numpy buffers directly: pyarrow.array() would import pandas
(seconds of start-up) just to check whether its argument is a pandas object.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

_MAX_STRING_BYTES = 2**31 - 1


def arrow(values: np.ndarray, type_: pa.DataType | None = None, valid: np.ndarray | None = None) -> pa.Array:
    """Zero-copy Arrow array of a 1-d numpy array (numeric or bool), optionally with nulls."""
    values = np.ascontiguousarray(values)
    if values.dtype == np.bool_:
        data, type_ = pa.py_buffer(np.packbits(values, bitorder="little")), pa.bool_()
    else:
        data, type_ = pa.py_buffer(values), type_ or pa.from_numpy_dtype(values.dtype)
    validity = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(type_, len(values), [validity, data])


def _string_array(values) -> pa.Array:
    """String array from a sequence of ``str`` or ``None`` (null)."""
    encoded = [b"" if v is None else v.encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    valid = np.array([v is not None for v in values], dtype=np.bool_)
    return pa.Array.from_buffers(
        pa.string(),
        len(encoded),
        [pa.py_buffer(np.packbits(valid, bitorder="little")), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))],
    )


@functools.cache
def _dictionary(vocabulary: tuple[str, ...]) -> pa.Array:
    return _string_array(vocabulary)


def vocabulary_column(vocabulary: tuple[str, ...], indices: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Dictionary-encoded string column: written as plain strings (with a
    parquet dictionary page), but no per-row string copies are built."""
    codes = np.asarray(indices, dtype=np.int32)
    if valid is not None:
        codes = np.where(valid, codes, 0)
    return pa.DictionaryArray.from_arrays(arrow(codes, valid=valid), _dictionary(vocabulary))


def strings_from_matrix(
    buf: np.ndarray, start: np.ndarray | None = None, valid: np.ndarray | None = None
) -> pa.Array | pa.ChunkedArray:
    """String array whose row ``i`` is ``buf[i, start[i]:]`` (the whole row when
    ``start`` is None), null where ``valid`` is False; no Python objects."""
    n, width = buf.shape
    per_piece = max(1, _MAX_STRING_BYTES // max(width, 1))
    pieces = []
    for lo in range(0, max(n, 1), per_piece):
        part = buf[lo : lo + per_piece]
        validity = None if valid is None else pa.py_buffer(np.packbits(valid[lo : lo + per_piece], bitorder="little"))
        if start is None:
            data = np.ascontiguousarray(part)
            offsets = np.arange(len(part) + 1, dtype=np.int32) * np.int32(width)
        else:
            first = start[lo : lo + per_piece]
            offsets = np.zeros(len(part) + 1, dtype=np.int32)
            np.cumsum(width - first, out=offsets[1:])
            short = np.flatnonzero(first)
            if len(short) > len(part) // 16:  # many short rows: select bytes with a mask
                data = part[np.arange(width) >= first[:, None]]  # row-major: the strings, concatenated
            else:  # a few short rows: copy the runs of full rows between them as blocks
                blocks, previous = [], 0
                for row in short.tolist():
                    blocks += [part[previous:row].ravel(), part[row, first[row] :]]
                    previous = row + 1
                blocks.append(part[previous:].ravel())
                data = np.concatenate(blocks)
        pieces.append(
            pa.Array.from_buffers(pa.string(), len(part), [validity, pa.py_buffer(offsets), pa.py_buffer(data)])
        )
    return pieces[0] if len(pieces) == 1 else pa.chunked_array(pieces)


class Text:
    """A string column being built in a byte matrix, right-aligned: row ``i``
    is ``buf[i, start[i]:]``.  ``set`` overwrites a few rows (bad rows) with
    arbitrary strings or None (null)."""

    def __init__(self, buf: np.ndarray, start: np.ndarray | None = None) -> None:
        self.buf = buf
        self.start = start
        self.valid: np.ndarray | None = None

    def set(self, rows: np.ndarray, values: Sequence[str | None]) -> None:
        if len(rows) == 0:
            return
        encoded = [b"" if v is None else v.encode() for v in values]
        n, width = self.buf.shape
        if self.start is None:
            self.start = np.zeros(n, dtype=np.int64)
        grow = max(len(b) for b in encoded) - width
        if grow > 0:  # widen on the left
            self.buf = np.concatenate([np.zeros((n, grow), dtype=np.uint8), self.buf], axis=1)
            self.start += grow
            width += grow
        for row, b in zip(rows.tolist(), encoded, strict=True):
            self.buf[row, width - len(b) :] = np.frombuffer(b, dtype=np.uint8)
            self.start[row] = width - len(b)
        nulls = [row for row, v in zip(rows.tolist(), values, strict=True) if v is None]
        if nulls:
            if self.valid is None:
                self.valid = np.ones(n, dtype=np.bool_)
            self.valid[nulls] = False

    def to_arrow(self) -> pa.Array | pa.ChunkedArray:
        return strings_from_matrix(self.buf, self.start, self.valid)


def digit_matrix(prefix: bytes, numbers: np.ndarray, digits: int, suffix: bytes = b"") -> np.ndarray:
    """Rows ``prefix`` + zero-padded decimal ``numbers`` + ``suffix`` (numbers must fit in ``digits``)."""
    width = len(prefix) + digits + len(suffix)
    buf = np.empty((len(numbers), width), dtype=np.uint8)
    buf[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    buf[:, len(prefix) + digits :] = np.frombuffer(suffix, dtype=np.uint8)
    put_digits(buf, len(prefix), digits, np.asarray(numbers, dtype=np.int64))
    return buf


def fixed_width_strings(prefix: bytes, numbers: np.ndarray, digits: int, suffix: bytes = b"") -> pa.Array:
    """``prefix`` + zero-padded decimal ``numbers`` + ``suffix`` as a string array."""
    return strings_from_matrix(digit_matrix(prefix, numbers, digits, suffix))


# "00".."99" as 2-byte units: one gather writes two ASCII digits.
_DIGIT_PAIRS = np.array([[48 + i // 10, 48 + i % 10] for i in range(100)], dtype=np.uint8).view(np.uint16).ravel()


def put_digits(buf: np.ndarray, pos: int, digits: int, value: np.ndarray) -> None:
    """Write ``value`` zero-padded to ``digits`` ASCII digits into ``buf[:, pos:pos + digits]``."""
    n_pairs = (digits + 1) // 2
    pairs = np.empty((len(value), n_pairs), dtype=np.uint16)
    x = value.copy()
    for k in range(n_pairs - 1, -1, -1):
        pairs[:, k] = _DIGIT_PAIRS[x % 100]
        x //= 100
    buf[:, pos : pos + digits] = pairs.view(np.uint8)[:, 2 * n_pairs - digits :]


@functools.cache
def _time_of_day_bytes() -> np.ndarray:
    """ "HH:MM:SS" (as S8 items) for every second of a day."""
    tod = np.arange(86400)
    buf = np.empty((86400, 8), dtype=np.uint8)
    buf[:, 2] = buf[:, 5] = ord(":")
    for pos, value in ((0, tod // 3600), (3, tod // 60 % 60), (6, tod % 60)):
        put_digits(buf, pos, 2, value)
    return buf.view("S8").ravel()


_ISO_TIMESTAMP = np.dtype({"names": ["date", "sep", "time"], "formats": ["S10", "S1", "S8"], "offsets": [0, 10, 11]})


def iso_timestamp_matrix(seconds: np.ndarray) -> np.ndarray:
    """Epoch seconds as rows "YYYY-MM-DDTHH:MM:SS" of an (n, 19) byte matrix."""
    days = seconds // 86400
    tod = seconds - days * 86400
    rows = np.empty(len(seconds), dtype=_ISO_TIMESTAMP)
    if len(seconds) == 0:
        return rows.view(np.uint8).reshape(0, 19)
    first, last = int(days.min()), int(days.max())
    calendar: np.ndarray
    day_index: np.ndarray  # both declared once: mypy 1.19 crashes on the tuple assignment below otherwise
    if last - first < 200_000:  # the dates of a contiguous range of days, then a gather
        day_index = days - first
        calendar = np.arange(first, last + 1)
    else:  # far-apart dates (e.g. 2099 among 2024): only the distinct days
        calendar, day_index = np.unique(days, return_inverse=True)
    dates = np.datetime_as_string(calendar.astype("datetime64[D]")).astype("S10")
    # gathers of fixed-size items into the fields of one 19-byte record per row
    rows["date"] = dates[day_index]
    rows["sep"] = b"T"
    rows["time"] = _time_of_day_bytes()[tod]
    return rows.view(np.uint8).reshape(-1, 19)


def amount_text(cents: np.ndarray) -> Text:
    """Integer cents as "-1234.50"-style text (exactly two decimals)."""
    n = len(cents)
    negative = cents < 0
    units, hundredths = np.divmod(np.abs(cents), 100)
    n_digits = np.ones(n, dtype=np.int64)
    top = int(units.max()) if n else 0
    power = 10
    while power <= top:
        n_digits += units >= power
        power *= 10
    max_digits = int(n_digits.max()) if n else 1
    width = 1 + max_digits + 3  # sign, digits, ".", two decimals
    buf = np.empty((n, width), dtype=np.uint8)
    put_digits(buf, 1, max_digits, units)
    buf[:, width - 3] = ord(".")
    put_digits(buf, width - 2, 2, hundredths)
    start = width - 3 - n_digits - negative
    buf[np.flatnonzero(negative), start[negative]] = ord("-")
    return Text(buf, start)


def decimal_from_cents(cents: np.ndarray) -> pa.Array:
    """Exact decimal128(18, 2) array from integer cents."""
    words = np.empty((len(cents), 2), dtype=np.int64)  # little-endian 128-bit two's complement
    words[:, 0] = cents
    words[:, 1] = cents >> 63
    return pa.Array.from_buffers(pa.decimal128(18, 2), len(cents), [None, pa.py_buffer(words)])
