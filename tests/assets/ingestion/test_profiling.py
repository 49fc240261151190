"""pipeline-profile's judgements, one at a time, on small hand-built frames and files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from assets.core.spec import DatasetSpec, load_spec_file
from assets.ingestion.profile import main, profile_folder, profile_table, to_yaml
from assets.ingestion.profiling.bounds import date_bounds, number_bounds, readable_bounds
from assets.ingestion.profiling.keys import distinct_rows, find_keys

TODAY = date(2026, 12, 1)


def _draft(data: dict[str, list], name: str = "t"):
    return profile_table(pl.DataFrame(data), name, "a frame", TODAY).draft


def _cols(data: dict[str, list]) -> dict[str, dict]:
    return {c["name"]: c for c in _draft(data).spec["columns"]}  # type: ignore[union-attr]


def test_bounds_round_outward_to_a_readable_value_not_a_percentage():
    assert readable_bounds(17, 4983, integer=True) == (0, 5000)
    assert readable_bounds(20, 695, integer=True) == (20, 700)
    assert readable_bounds(-43, 1301, integer=True) == (-100, 1400)
    assert readable_bounds(1.02, 261.76, integer=False) == (0.0, 270.0)
    assert number_bounds("year", 2013, 2013, True) == (2013, 2013, "constant")
    assert number_bounds("month", 1, 11, True)[:2] == (1, 12)
    assert number_bounds("hour", 5, 23, True)[:2] == (0, 23)
    assert number_bounds("minute", 0, 59, True)[:2] == (0, 59)
    assert number_bounds("discount_pct", 0, 80, True)[:2] == (0, 100)
    assert number_bounds("lon", -176.6, 174.1, False)[:2] == (-180, 180)
    assert number_bounds("latitude", 19.7, 72.3, False)[:2] == (-90, 90)
    # the name promises a month, the values disagree: observed bounds, not the domain
    assert number_bounds("month", 0, 14, True)[:2] == (0, 14)
    assert date_bounds(date(2013, 1, 27), date(2013, 11, 4), TODAY) == (
        "2013-01-01",
        "today",
        "observed span; nothing after today",
    )
    assert date_bounds(date(2026, 1, 5), date(2027, 2, 10), TODAY)[:2] == (
        "2026-01-01",
        "2027-02-28",
    )


def test_timestamps_epochs_and_strftime_formats_are_read_as_ingestion_reads_them():
    cols = _cols(
        {
            "created_at": ["1700000000", "1700003600", "NA"],
            "updated_ts": ["1700000000000", "1700000001000", "1700000002000"],
            "dep_time": ["517", "2400", "1"],  # a clock time, not an epoch
            "seen": ["2024-03-01T10:00:00Z", "2024-03-01T10:00:00.125+02:00", "2024-03-02 09:00"],
            "day": ["13/02/2024", "01/03/2024", "-"],
            "when": ["13/02/2024 10:30", "01/03/2024 23:59", "02/03/2024 00:00"],
            "month": ["Jan 1 2000", "Feb 1 2000", "Mar 1 2000"],
        }
    )
    assert (cols["created_at"]["type"], cols["created_at"]["unit"]) == ("datetime", "s")
    assert (cols["updated_ts"]["type"], cols["updated_ts"]["unit"]) == ("datetime", "ms")
    assert cols["dep_time"]["type"] == "integer"
    assert cols["seen"]["type"] == "datetime" and "format" not in cols["seen"]
    assert (cols["day"]["type"], cols["day"]["format"]) == ("date", "%d/%m/%Y")
    assert cols["day"]["null_values"][-1] == "-"
    assert (cols["when"]["type"], cols["when"]["format"]) == ("datetime", "%d/%m/%Y %H:%M")
    assert (cols["month"]["type"], cols["month"]["format"]) == ("date", "%b %d %Y")


def test_a_date_read_day_first_or_month_first_is_reported_as_unsure():
    draft = _draft({"d": ["01/02/2024", "03/02/2024"]})
    assert draft.spec["columns"][0]["format"] == "%d/%m/%Y"  # type: ignore[index]
    assert draft.doubts == ["d: also reads as '%m/%d/%Y'"]
    assert "# - d: also reads as '%m/%d/%Y'" in to_yaml(draft)


def test_two_digit_years_are_drafted_as_such_and_reported_as_unsure():
    """Ingestion holds %Y to four digits, so 1/1/12 gets %y and the century is a doubt, where
    the draft said %Y and min 0012-01-01 and every row validated as a date 2000 years ago."""
    draft = _draft({"d": ["1/1/12", "1/2/12", "12/31/15", "7/4/14"]})
    column = draft.spec["columns"][0]  # type: ignore[index]
    assert (column["format"], column["min"]) == ("%m/%d/%y", "2012-01-01")
    assert draft.doubts == [
        "d: two-digit years: 00-69 are read as 2000-2069 and 70-99 as 1970-1999; check the "
        "oldest and newest dates"
    ]


def test_null_spellings_become_null_values_of_the_dataset_and_of_a_column():
    draft = _draft({"n": ["1", "NA", "3"], "x": ["1.5", "?", "n/a"], "s": ["a", "None", "b"]})
    cols = {c["name"]: c for c in draft.spec["columns"]}  # type: ignore[union-attr]
    assert draft.spec["null_values"] == ["NA"]  # a text reading None stays a text
    assert cols["x"]["type"] == "float" and cols["x"]["null_values"][-2:] == ["?", "n/a"]
    assert "missing spelled '?', 'n/a'" in draft.evidence["x"]


def test_named_patterns_codes_value_lists_and_personal_data():
    n = 60
    cols = _cols(
        {
            "customer_name": [f"Ann Smith {i}" for i in range(n)],
            "email": [f"u{i}@example.com" for i in range(n)],
            "phone": [f"+33 6 12 34 {i:02d}" for i in range(n)],
            "site": [f"https://example.com/{i}" for i in range(n)],
            "token": [f"{i:08x}-0000-4000-a000-{i:012x}" for i in range(n)],
            "country_code": [f"{chr(65 + i % 26)}{chr(65 + i // 26)}" for i in range(n)],
            "channel": [["web", "store"][i % 2] for i in range(n)],
            "comment": [["late", "ok"][i % 2] for i in range(n)],
        }
    )
    assert cols["customer_name"]["pii"] and "pattern" not in cols["customer_name"]
    assert cols["email"]["pattern"] == "email" and cols["email"]["pii"]
    assert cols["phone"]["pattern"] == "phone" and cols["phone"]["pii"]
    assert cols["site"]["pattern"].startswith("^https?://")
    assert cols["token"]["pattern"].startswith("^[0-9a-fA-F]{8}-")
    assert cols["country_code"]["pattern"] == "^[A-Z]{2}$"
    assert cols["channel"]["allowed"] == ["store", "web"]
    assert "allowed" not in cols["comment"]  # free text never gets a value list


def test_a_bare_name_is_personal_only_in_a_table_of_people():
    names = {"name": ["Ann Lee", "Bob Ray"], "code": ["A1", "B2"]}
    assert "pii" not in _cols(names)["name"]
    draft = profile_table(pl.DataFrame(names), "customers", "a frame", TODAY).draft
    assert draft.spec["columns"][0]["pii"] is True  # type: ignore[index]


def test_keys_are_minimal_column_sets_never_floats_or_free_text():
    frame = pl.DataFrame(
        {
            "origin": ["EWR", "EWR", "JFK", "JFK"],
            "hour": [1, 2, 1, 2],
            "temp": [1.5, 2.5, 3.5, 4.5],  # unique, but a float
            "station": ["Newark Liberty A", "Newark Liberty B", "Kennedy Intl A", "Kennedy B"],
        }
    )
    kinds = {"origin": "string", "hour": "integer", "temp": "float", "station": "string"}
    keys = find_keys(frame, kinds, dict.fromkeys(kinds, 0), free_text={"station"})
    assert keys.key == ["origin", "hour"] and keys.near == {}


def test_a_panel_key_takes_a_category_of_names_with_spaces():
    """Grunfeld's investment panel: firm names hold spaces but are a few repeated categories,
    so (firm, year) is the key, where the draft said there was none."""
    firms = ["General Motors", "US Steel", "General Electric", "Chrysler"]
    draft = _draft(
        {
            "firm": [f for f in firms for _ in range(20)],
            "year": [1935 + i for _ in firms for i in range(20)],
            "invest": [float(i) for i in range(80)],
        }
    )
    assert draft.spec["key"] == ["firm", "year"]


def test_a_near_key_is_reported_with_its_duplicates_named():
    ids = [f"C{i:03d}" for i in range(500)] + ["C007", "C042"]
    draft = _draft({"customer_id": ids, "v": list(range(502))})
    assert "key" not in draft.spec or draft.spec["key"] == ["v"]
    assert (
        "near-key: unique except 2 rows (duplicated: C007 x2, C042 x2)"
        in draft.evidence["customer_id"]
    )
    assert any("customer_id: a near-key, unique except 2 rows" in d for d in draft.doubts)


def _write(folder: Path, name: str, frame: pl.DataFrame) -> None:
    (folder / name).mkdir(parents=True)
    frame.write_csv(folder / name / f"{name}-1.csv")


def test_a_folder_gives_one_loadable_spec_per_dataset_with_foreign_keys(tmp_path: Path):
    landing, out = tmp_path / "landing", tmp_path / "datasets"
    airports = ["EWR", "JFK", "LGA", "ORD", "ATL", "BOS", "DEN", "IAH", "LAX", "MIA"]
    _write(landing, "airports", pl.DataFrame({"faa": airports}))
    _write(landing, "planes", pl.DataFrame({"tailnum": [f"N{i}" for i in range(10)]}))
    _write(
        landing,
        "flights",
        pl.DataFrame(
            {
                "flight_id": list(range(20)),
                "origin": ["EWR", "JFK"] * 10,
                "dest": [airports[i % 9 + 1] for i in range(18)] + ["SJU", "SJU"],
                "tailnum": [f"N{i % 10}" for i in range(19)] + ["N99"],
                "seats": [i % 4 for i in range(20)],  # small integers: no reference by chance
            }
        ),
    )
    (landing / "notes.json").write_text("{not json")
    assert main([str(landing), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["airports.yaml", "flights.yaml", "planes.yaml"]
    flights = load_spec_file(out / "flights.yaml")
    fks = {tuple(f.columns): f for f in flights.foreign_keys}
    assert set(fks) == {("origin",), ("dest",), ("tailnum",)}
    assert (fks[("origin",)].threshold, fks[("origin",)].severity) == (None, "error")
    assert (fks[("dest",)].references, fks[("dest",)].threshold) == ("airports", 0.9)
    assert fks[("dest",)].severity == "warn"
    assert fks[("tailnum",)].threshold == 0.95
    text = (out / "flights.yaml").read_text()
    assert "# 90.0% of 20 present values match; 2 orphan rows (SJU)" in text
    assert "# 95.0% of 20 present values match; 1 orphan rows (N99)" in text


def test_every_column_carries_its_evidence_and_the_draft_ends_with_its_doubts(tmp_path: Path):
    landing = tmp_path / "landing"
    kinds = ["a", "b", "a", "b", None]
    _write(landing, "events", pl.DataFrame({"kind": kinds, "n": [1, 2, 3, 4, 5]}))
    drafts, skipped = profile_folder(landing, today=TODAY)
    text = to_yaml(drafts["events"])
    lines = text.splitlines()
    column_lines = [line for line in lines if line.startswith("  - {name:")]
    assert column_lines[0].endswith(
        "# 20.0% null; 2 distinct; 2 values cover every row; top: a 2, b 2"
    )
    assert "# 0.0% null; 5 distinct; min 1; max 5; bounds: observed" in column_lines[1]
    assert lines[-1] == "# Unsure: nothing the profiler could tell." and skipped == {}


def test_a_folder_without_tables_or_a_file_without_a_name_is_refused(tmp_path: Path, capsys):
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--out", str(tmp_path / "out")])
    assert "no CSV, JSON, NDJSON, Parquet or XML file in it" in capsys.readouterr().err
    (tmp_path / "a.csv").write_text("x\n1\n")
    with pytest.raises(SystemExit):
        main([str(tmp_path / "a.csv")])
    assert "a file needs --name" in capsys.readouterr().err


def test_a_few_stray_texts_do_not_make_a_number_column_text_but_are_reported():
    n = 400
    draft = _draft(
        {
            "quantity": [str(1 + i % 5) for i in range(n - 2)] + ["#VALUE!", "#VALUE!"],
            "visib": ["10"] * (n - 1) + ["0.5"],  # a value of another form: a float column
            "note": ["#VALUE!"] * 20 + [str(i) for i in range(n - 20)],  # 5% of rows: text
        }
    )
    cols = {c["name"]: c for c in draft.spec["columns"]}  # type: ignore[union-attr]
    assert [cols[c]["type"] for c in ("quantity", "visib", "note")] == [
        "integer",
        "float",
        "string",
    ]
    assert "quantity: 2 rows hold '#VALUE!', not an integer: flagged at ingestion" in draft.doubts
    assert "2 rows did not cast to the drafted types" in draft.doubts


def test_rows_repeated_whole_are_reported_and_no_key_is_searched():
    draft = _draft({"id": ["a", "b", "b"], "v": [1, 2, 2]})
    assert "key" not in draft.spec
    assert "1 rows repeat an earlier row in every column" in draft.doubts


def test_distinct_rows_are_counted_exactly_by_hash_then_by_value():
    frame = pl.DataFrame({"a": [1, 1, 2, 3, 3, 3], "b": ["x", "x", "y", "z", "z", "w"]})
    assert distinct_rows(frame, ["a", "b"]) == 4
    assert distinct_rows(frame, ["a"]) == 3
    assert distinct_rows(frame.unique(), ["a", "b"]) == 4


def test_columns_named_like_the_counts_are_profiled():
    """The counts are grouped under names of their own, so a column called len, value, rows
    or text is counted like any other."""
    frame = pl.DataFrame(
        {
            "len": ["a", "b", "a", "c", "a", "b"],
            "value": ["1", "2", "2", "3", "3", "3"],
            "rows": ["x", "x", "y", "y", "z", "z"],
            "text": ["k1", "k2", "k3", "k4", "k5", "k5"],
        }
    )
    draft = profile_table(frame, "t", "a frame", date(2026, 1, 1)).draft
    text = to_yaml(draft)
    lines = {line.split(",")[0].split()[-1]: line for line in text.splitlines() if "{name:" in line}
    assert "allowed: [a, b, c]" in lines["len"] and "top: a 3, b 2, c 1" in lines["len"]
    assert "type: integer" in lines["value"] and "top: 3 3, 2 2, 1 1" in lines["value"]
    assert "top: x 2, y 2, z 2" in lines["rows"] and "top: k5 2, k1 1, k2 1" in lines["text"]
    assert draft.spec["key"] == ["len", "value"]
    DatasetSpec.model_validate(draft.spec)


def test_the_key_search_counts_only_the_sets_a_draft_names():
    """Fifteen pairs are unique here (remainders by coprime numbers); a draft names the key and
    three more, so only the best-ranked four are counted, and they are the exhaustive four."""
    import itertools

    from assets.ingestion.profiling.keys import MULTI_SHOWN, _rank

    n = 1_000
    frame = pl.DataFrame({f"x{m}": [i % m for i in range(n)] for m in (37, 41, 43, 47, 53, 59)})
    kinds = dict.fromkeys(frame.columns, "integer")
    distinct = {c: frame[c].n_unique() for c in frame.columns}
    keys = find_keys(frame, kinds, dict.fromkeys(kinds, 0), set(), distinct)
    pairs = [
        p
        for p in itertools.combinations(frame.columns, 2)
        if frame.select(pl.struct(list(p)).n_unique()).item() == n
    ]
    assert len(pairs) == 15
    best = sorted(pairs, key=lambda p: _rank(p, frame.columns, distinct))[:MULTI_SHOWN]
    assert [keys.key, *keys.unique] == [list(p) for p in best]


def test_a_decimal_comma_is_drafted_and_read_only_where_the_texts_settle_it():
    """Grunfeld saved by a European spreadsheet: 317,6 is drafted as a float with
    decimal_comma, which ingestion then reads; 1,234 alone (a thousand in English) is not."""
    draft = _draft(
        {
            "invest": ["317,6", "391,8", "1.362,4", "-2,25"],
            "english": ["1,234", "2,500", "12,000", "7,125"],
        }
    )
    invest, english = draft.spec["columns"]  # type: ignore[misc]
    assert (invest["type"], invest["decimal_comma"]) == ("float", True)
    assert (invest["min"], invest["max"]) == (-100.0, 1400.0)  # -2.25 and 1362.4, outward
    assert english["type"] == "string" and "decimal_comma" not in english
    spec = DatasetSpec.model_validate(
        {"name": "g", "columns": [{"name": "invest", "type": "float", "decimal_comma": True}]}
    )
    from assets.ingestion.conform import conform

    typed = conform(
        pl.LazyFrame({"invest": ["317,6", "1.362,4", " 2,5 ", "1,2,3"]}),
        spec,
        source_file="g.csv",
        file_sha256="h",
    ).collect()
    assert typed["invest"].to_list() == [317.6, 1362.4, 2.5, None]


def test_decimal_comma_belongs_to_a_float_column():
    with pytest.raises(ValueError, match="decimal_comma: only a float column"):
        DatasetSpec.model_validate(
            {"name": "g", "columns": [{"name": "n", "type": "integer", "decimal_comma": True}]}
        )


def test_a_draft_writes_accented_values_as_they_read_and_loads(tmp_path: Path):
    """A reviewer reads Société Générale, not Soci\\xE9t\\xE9 G\\xE9n\\xE9rale."""
    firms = ["Société Générale", "Crédit Agricole"]
    text = to_yaml(_draft({"firm": [f for f in firms for _ in range(3)]}, name="banks"))
    assert "Société Générale" in text and "\\xE9" not in text
    (tmp_path / "banks.yaml").write_text(text, encoding="utf-8")
    spec = load_spec_file(tmp_path / "banks.yaml")
    assert spec.columns[0].allowed == sorted(firms)
