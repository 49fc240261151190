"""The column parsing fields (null_values, format, unit, timezone): a misuse is refused at spec
load with one exact message naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from assets.core.spec import DEFAULT_NULL_VALUES, SpecError, load_catalog, load_spec_file
from assets.ingestion.conform import null_values_of

WEATHER = """\
name: weather
columns:
  - {name: origin, type: string, required: true}
  - {name: temp, type: float}
  - {name: hour, type: integer}
  - {name: day, type: date}
  - {name: time_hour, type: datetime, required: true}
"""

CASES = [
    (
        "unit_on_a_string_column",
        WEATHER.replace("type: string, required: true", "type: string, unit: s"),
        "field 'columns.0.unit': only a datetime column takes a unit (epoch seconds or "
        "milliseconds), not string",
    ),
    (
        "unit_on_a_date_column",
        WEATHER.replace("day, type: date", "day, type: date, unit: ms"),
        "field 'columns.3.unit': only a datetime column takes a unit (epoch seconds or "
        "milliseconds), not date",
    ),
    (
        "unknown_unit",
        WEATHER.replace("type: datetime,", "type: datetime, unit: us,"),
        "field 'columns.4.unit': Input should be 's' or 'ms'",
    ),
    (
        "format_on_an_integer_column",
        WEATHER.replace("type: integer", "type: integer, format: '%H'"),
        "field 'columns.2.format': only a date or datetime column takes a format, not integer",
    ),
    (
        "format_with_an_unknown_directive",
        WEATHER.replace("day, type: date", "day, type: date, format: '%d/%Q/%Y'"),
        "field 'columns.3.format': '%Q' in '%d/%Q/%Y' is not a strftime directive the parser reads",
    ),
    (
        "format_without_a_directive",
        WEATHER.replace("day, type: date", "day, type: date, format: dd/mm/yyyy"),
        "field 'columns.3.format': 'dd/mm/yyyy' has no strftime directive such as %Y or %d",
    ),
    (
        "unit_and_format",
        WEATHER.replace("type: datetime,", "type: datetime, unit: s, format: '%s',"),
        "field 'columns.4.unit': epoch numbers have no format; give either unit or format",
    ),
    (
        "unknown_timezone",
        WEATHER.replace("type: datetime,", "type: datetime, timezone: America/New_Yrok,"),
        "field 'columns.4.timezone': unknown time zone 'America/New_Yrok'; did you mean "
        "'America/New_York'?",
    ),
    (
        "timezone_zoneinfo_knows_but_the_parser_does_not",
        WEATHER.replace("type: datetime,", "type: datetime, timezone: localtime,"),
        "field 'columns.4.timezone': unknown time zone 'localtime' (an IANA name such as "
        "Europe/Paris)",
    ),
    (
        "timezone_on_a_float_column",
        WEATHER.replace("type: float", "type: float, timezone: UTC"),
        "field 'columns.1.timezone': only a date or datetime column takes a timezone, not float",
    ),
    (
        "timezone_with_a_unit",
        WEATHER.replace("type: datetime,", "type: datetime, unit: s, timezone: UTC,"),
        "field 'columns.4.timezone': epoch numbers are instants in UTC; a timezone does not apply",
    ),
    (
        "timezone_on_a_derived_column",
        WEATHER.replace(
            "{name: day, type: date}",
            "{name: day, type: date, expression: 'make_date(hour, hour, hour)', timezone: UTC}",
        ),
        "field 'columns.3.timezone': a derived column is computed, not read from text",
    ),
    (
        "column_null_values_not_a_list",
        WEATHER.replace("type: float", "type: float, null_values: NA"),
        "field 'columns.1.null_values': Input should be a valid list",
    ),
    (
        "null_values_with_an_unquoted_yaml_null",
        WEATHER + "null_values: [NA, null]\n",
        "field 'null_values': an unquoted null, NULL or ~ is YAML for no value; quote it to mean "
        'the text: ["null", "NULL"]',
    ),
    (
        "dataset_null_values_not_texts",
        WEATHER + "null_values: [NA, [x]]\n",
        "field 'null_values.1': Input should be a valid string",
    ),
]


@pytest.mark.parametrize(("name", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_misused_parsing_field_is_refused_naming_it(tmp_path: Path, name, text, expected):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as err:
        load_catalog([tmp_path])
    assert str(err.value) == f"{path}: {expected}"


def test_parsing_fields_load_and_null_values_default_to_the_documented_list(tmp_path: Path):
    path = tmp_path / "weather.yaml"
    path.write_text(
        WEATHER.replace(
            "day, type: date", "day, type: date, format: '%d/%m/%Y', timezone: Europe/Paris"
        )
        .replace("type: datetime,", "type: datetime, unit: ms,")
        .replace("type: string, required: true", "type: string, null_values: [' - ']")
    )
    spec = load_spec_file(path)
    assert DEFAULT_NULL_VALUES == ("", "NA", "N/A", "NaN", "null", "NULL", "None")
    assert spec.null_values == list(DEFAULT_NULL_VALUES)
    origin, temp, _, day, time_hour = spec.columns
    assert null_values_of(spec, origin) == ("-",)  # trimmed, as texts are compared
    assert null_values_of(spec, temp) == DEFAULT_NULL_VALUES
    assert (day.format, day.timezone, time_hour.unit) == ("%d/%m/%Y", "Europe/Paris", "ms")
    path.write_text(WEATHER + "null_values: [NA, '', -999]\n")
    assert null_values_of(load_spec_file(path), temp) == ("NA", "", "-999")
