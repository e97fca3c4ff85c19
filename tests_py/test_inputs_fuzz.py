"""Many malformed variants of an input, checked against an independent reading of the README's rules.

Row-level variants (dates, numbers, ids, layouts, bytes) are built into ONE CSV file and one
JSON Lines file and loaded by one `loyalty run`: every row must end in the marts or in
`rejected_transactions` with exactly the reason that `expected_reason` (written from the
README, not from the SQL) gives, raw = valid + rejected, exit code 0, no traceback.
File-level variants (empty, wrong encoding, wrong delimiter, duplicate or missing columns,
not Parquet) are refused before anything starts: exit code 2 and one sentence each.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest

from conftest import connect, run_cli

AS_OF = dt.date(2024, 6, 30)
MIN_PLAUSIBLE, MAX_PLAUSIBLE = dt.date(1990, 1, 1), dt.date(2099, 12, 31)

DATES = [
    "2024-03-05",
    "2024-03-05 10:00:00",
    "2024-03-05T10:00:00Z",
    "2024-03-05 10:00+02:00",
    "2024-03-05 23:30-05",
    "2024-06-30 22:00-05",
    "2024-06-30 23:59:59.123456",
    "2024-07-01T01:00+02",
    "2024-02-29",
    "2023-02-29",
    "2024-02-30",
    "2024-13-01",
    "2024-3-5",
    "31/02/2024",
    "20240305",
    "2024-03-05T",
    "2024-03-05 25:00",
    "2024-03-05 10:00 +02:00",
    "2024-03-05 10:00:00.1234567",
    "epoch",
    "infinity",
    "-infinity",
    "now",
    "today",
    "yesterday",
    "tomorrow",
    "allballs",
    "NaN",
    "0001-01-01",
    "1600-06-01",
    "1900-01-01",
    "1989-12-31",
    "1990-01-01",
    "9999-12-31",
    "2024-07-01",
    "",
    " ",
    "2024-03-05z",
    "2024-03-05 10:00:00+2",
    "2024-03-05 10:00:00+19",
]
AMOUNTS = [
    "10",
    "10.5",
    "-3.25",
    "0",
    "1e3",
    "1E-2",
    "12,50",
    "1_000",
    "inf",
    "-inf",
    "nan",
    "NaN",
    "+5",
    ".5",
    "5.",
    "$5",
    "1 000",
    "0x10",
    "99999999999999999999",
    "",
    "\uff11\uff12",
    "12.5.1",
    "-0",
    "1e400",
]
QUANTITIES = ["1", "2.0", "1.5", "x", "", "-1", "1e3", "3.00"]
TS_PATTERN = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
AMOUNT_PATTERN = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")


def parse_day(text: str) -> dt.date | None:
    """The README's transacted_at rule, read independently: the UTC (business) day, or None."""
    m = TS_PATTERN.fullmatch(text)
    if not m or not text.isascii():
        return None
    year, month, day, hh, mm, ss, frac, offset = m.groups()
    try:
        value = dt.datetime(
            int(year), int(month), int(day), int(hh or 0), int(mm or 0), int(ss or 0), int((frac or "0").ljust(6, "0"))
        )
    except ValueError:
        return None
    if offset and offset != "Z":
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:] or 0)
        if hours > 18:
            return None
        try:
            value -= sign * dt.timedelta(hours=hours, minutes=minutes)
        except OverflowError:
            return None
    return value.date()


def parse_amount(text: str) -> Decimal | None:
    if not AMOUNT_PATTERN.fullmatch(text) or not text.isascii():
        return None
    try:
        value = Decimal(text).quantize(Decimal("0.0001"))
    except InvalidOperation:
        return None
    return value if abs(value) < Decimal(10) ** 14 else None


def expected_reason(row: dict[str, str] | None, seen_ids: set[str]) -> str | None:
    if row is None:
        return "malformed_line"
    tid, cid, ts, amount = (row[k].strip() for k in ("transaction_id", "customer_id", "transacted_at", "amount"))
    if not tid:
        return "missing_transaction_id"
    if not cid:
        return "missing_customer_id"
    if not ts:
        return "missing_transacted_at"
    day = parse_day(ts)
    if day is None:
        return "unparseable_transacted_at"
    if not MIN_PLAUSIBLE <= day <= MAX_PLAUSIBLE:
        return "implausible_transacted_at"
    if not amount:
        return "missing_amount"
    if parse_amount(amount) is None:
        return "unparseable_amount"
    if tid in seen_ids:
        return "duplicate_transaction_id"
    seen_ids.add(tid)
    return "after_as_of" if day > AS_OF else None


def csv_field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


def build_variants(folder: Path, n: int = 400, seed: int = 13) -> dict[tuple[str, int], str | None]:
    """Write fuzz.csv and fuzz.jsonl; return (file, row number) -> expected reason."""
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    expected: dict[tuple[str, int], str | None] = {}
    seen: set[str] = set()
    lines: list[bytes] = [b"transaction_id,customer_id,transacted_at,amount,quantity\n"]
    for i in range(1, n + 1):
        row = {
            "transaction_id": rng.choice(["", f"t{i}", f"t{i}", f"t{i}", f"t{rng.randint(1, max(i - 1, 1))}"]),
            "customer_id": rng.choice(["", f"c{rng.randint(1, 40)}", f"c{rng.randint(1, 40)}"]),
            "transacted_at": rng.choice(DATES),
            "amount": rng.choice(AMOUNTS),
            "quantity": rng.choice(QUANTITIES),
        }
        layout = rng.choices(["ok", "extra", "short", "bad_bytes"], weights=[90, 4, 4, 2])[0]
        fields = [csv_field(row[k]) for k in row]
        if layout == "extra":
            fields.append("surplus")
        elif layout == "short":
            fields = fields[: rng.randint(1, 4)] + ([] if any(fields[:1]) else ["x"])  # never a blank line
        line = ",".join(fields).encode()
        if layout == "bad_bytes":
            line = line.replace(b",", b",\xff", 1)  # a byte that is not UTF-8 in the second field
        lines.append(line + b"\n")
        expected[("fuzz.csv", i)] = expected_reason(row if layout == "ok" else None, seen)
    # fixed rows, so that every reason is drawn whatever the seed: an empty amount, and an id twice
    fixed = [
        {
            "transaction_id": "t_fixed_1",
            "customer_id": "c1",
            "transacted_at": "2024-03-05",
            "amount": "",
            "quantity": "1",
        },
        {
            "transaction_id": "t_fixed_2",
            "customer_id": "c1",
            "transacted_at": "2024-03-05",
            "amount": "1",
            "quantity": "1",
        },
        {
            "transaction_id": "t_fixed_2",
            "customer_id": "c2",
            "transacted_at": "2024-03-06",
            "amount": "2",
            "quantity": "1",
        },
    ]
    for k, row in enumerate(fixed, start=n + 1):
        lines.append((",".join(csv_field(row[c]) for c in row) + "\n").encode())
        expected[("fuzz.csv", k)] = expected_reason(row, seen)
    # an unterminated quote can only be the last line: it swallows the rest of the file
    lines.append(b'"t_last,c1,2024-03-05,1,1\n')
    expected[("fuzz.csv", n + len(fixed) + 1)] = "malformed_line"
    (folder / "fuzz.csv").write_bytes(b"".join(lines))

    json_lines = []
    for j in range(1, 61):
        kind = rng.choice(["object", "object", "object", "text", "array", "number", "broken"])
        row = {
            "transaction_id": f"j{j}",
            "customer_id": f"c{j % 7}",
            "transacted_at": rng.choice(DATES),
            "amount": rng.choice(AMOUNTS),
        }
        if kind == "object":
            json_lines.append(json.dumps(row))
            expected[("fuzz.jsonl", j)] = expected_reason(row, seen)
        else:
            json_lines.append(
                {"text": "plain text", "array": "[1, 2]", "number": "42", "broken": json.dumps(row)[:-1]}[kind]
            )
            expected[("fuzz.jsonl", j)] = "malformed_line"
    (folder / "fuzz.jsonl").write_text("\n".join(json_lines) + "\n")
    return expected


def test_reference_reader_on_hand_examples() -> None:
    # the test's own reading of the rules, pinned before it judges the pipeline
    assert parse_day("2024-06-30 22:00-05") == dt.date(2024, 7, 1)
    assert parse_day("2024-03-05T10:00:00Z") == dt.date(2024, 3, 5)
    assert parse_day("epoch") is None and parse_day("2023-02-29") is None and parse_day("2024-3-5") is None
    assert parse_amount("1e3") == Decimal("1000.0000") and parse_amount("1_000") is None
    assert parse_amount("99999999999999999999") is None and parse_amount("\uff11\uff12") is None
    seen: set[str] = set()
    base = {"transaction_id": "t1", "customer_id": "c1", "transacted_at": "2024-03-05", "amount": "1"}
    assert expected_reason(base, seen) is None
    assert expected_reason(base, seen) == "duplicate_transaction_id"
    assert expected_reason({**base, "transaction_id": "t2", "transacted_at": "1900-01-01"}, seen) == (
        "implausible_transacted_at"
    )


@pytest.mark.slow
def test_fuzzed_rows_each_get_the_documented_reason(tmp_path: Path) -> None:
    expected = build_variants(tmp_path / "input")
    warehouse = tmp_path / "w.duckdb"
    proc = run_cli(
        "run",
        "--transactions",
        str(tmp_path / "input"),
        "--as-of",
        AS_OF.isoformat(),
        "--warehouse",
        str(warehouse),
        "--max-rejected-share",
        "1",
        check=False,
    )
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stderr
    with connect(warehouse) as con:
        got = {
            (file, row): reason
            for file, row, reason in con.execute(
                "select regexp_extract(r.source_file, '[^/]+$'), r.source_row_number, v.reject_reason"
                " from raw.transactions r left join marts.rejected_transactions v using (raw_row_id)"
            ).fetchall()
        }
        raw, valid, rejected = con.execute(  # type: ignore[misc]  # fetchone() is None only without a row; the unpacking then fails the test
            "select (select count(*) from raw.transactions), (select count(*) from marts.fct_transactions),"
            " (select count(*) from marts.rejected_transactions)"
        ).fetchone()
    assert raw == valid + rejected == len(expected)
    wrong = {key: (got.get(key), want) for key, want in expected.items() if got.get(key, "absent") != want}
    assert wrong == {}
    # the fuzz really covers every reason of the seed
    reasons = {r for r in expected.values() if r}
    seed = Path(__file__).resolve().parents[1] / "seeds" / "reject_reasons.csv"
    listed = {line.split(",")[0] for line in seed.read_text().splitlines()[1:]}
    assert reasons == listed


FILE_VARIANTS = {
    "empty.csv": (b"", "is empty"),
    "utf16.csv": (
        "transaction_id,customer_id,transacted_at,amount\nt1,c1,2024-01-01,1\n".encode("utf-16"),
        "is not utf-8 text",
    ),
    "semicolons.csv": (
        b"transaction_id;customer_id;transacted_at;amount\nt1;c1;2024-01-01;1\n",
        "missing the required columns",
    ),
    "twice.csv": (
        b"transaction_id,customer_id,transacted_at,amount,AMOUNT \nt1,c1,2024-01-01,1,2\n",
        "two columns named amount",
    ),
    "no_id.jsonl": (
        b'{"customer_id": "c1", "transacted_at": "2024-01-01", "amount": 1}\n',
        "missing the required column transaction_id",
    ),
    "key_twice.jsonl": (
        b'{"transaction_id": "t1", "customer_id": "c1", "transacted_at": "2024-01-01", "amount": 1}\n'
        b'{"transaction_id": "t2", "customer_id": "c1", "transacted_at": "2024-01-01", "amount": 1, "amount": 2}\n',
        "Line 2 of the transactions file",
    ),
    "fake.parquet": (b"PAR1 not really", "Could not read the transactions file"),
    "notes.txt": (b"hello", "is neither .csv, .parquet nor .jsonl"),
}


@pytest.mark.parametrize("name", sorted(FILE_VARIANTS))
def test_bad_files_are_refused_up_front_in_one_sentence(tmp_path: Path, name: str) -> None:
    content, fragment = FILE_VARIANTS[name]
    path = tmp_path / name
    path.write_bytes(content)
    proc = run_cli("run", "--transactions", str(path), "--warehouse", str(tmp_path / "w.duckdb"), check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], proc.stderr
    assert "temporary server" not in proc.stdout + proc.stderr
