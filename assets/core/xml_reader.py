"""The XML landing reader: expat streams the file and its records become batches of text columns.

The record model: the document (root) element holds the records, one child element per record,
all with the name of the first one. Within a record:

- an element with no child elements is a value: its text, exactly (character and entity
  references decoded, CDATA kept whole, an empty element is ""), in the column of its local name;
  an element nested in another is named by its path below the record (``<address><city>`` is
  ``address_city``); names are normalised like CSV headers (``Order-ID`` -> ``order_id``);
- an attribute of the record element is a column of its local name; an attribute of an element
  inside is ``<element>_<attribute>`` (``<price currency="EUR">`` gives ``price_currency``);
  attributes of the root are not data and are ignored;
- ``xsi:nil="true"`` makes a value null; other XML-Schema-instance attributes are not data;
- whitespace between elements is ignored; comments and processing instructions are skipped.

Everything a record holds lands in a column, or the file is refused (BadFile, with the line and
column): two sources of one column name (two namespaces' elements with one local name, an
attribute and an element, ``Order-ID`` and ``order_id``), an element repeated in one record, text
mixed with elements, a second kind of element under the root, a root with no record, more than
MAX_COLUMNS distinct columns. So is any entity declaration in a
DOCTYPE (never expanded: that is how billion-laughs and external-entity attacks work), an entity
only an external DTD could define (external DTDs are never read), and anything expat finds
malformed, truncation included. Values are all text; conform casts them to the contract later.
"""

from __future__ import annotations

from pathlib import Path
from xml.parsers import expat

import polars as pl

from assets.core.reader_base import BadFile, Budget, normalize_name

BLOCK = 1 << 20  # bytes handed to expat at a time
BATCH_VALUES = 500_000  # values held as Python strings before they become one Polars frame
MAX_COLUMNS = 4096  # beyond this, batches of a few rows each would make the read crawl
NO_VALUE: list[str | None] = [None]
XSI = "http://www.w3.org/2001/XMLSchema-instance}"
SEP = "\x00"  # joins element and attribute names into a key; no XML name can hold it


def read_xml_text(path: Path, workdir: Path, budget: Budget | None = None) -> pl.LazyFrame:
    """A UTF-8 XML file's records as all-text columns, written to Parquet one batch at a time.

    ``budget`` is checked after every block, so a file built to be slow stops within a block.
    """
    # The document's encoding declaration is overridden: prepare_text has already detected the
    # bytes' encoding and transcoded them to UTF-8, whatever the declaration said.
    parser = expat.ParserCreate(encoding="utf-8", namespace_separator="}")
    records = _Records(parser, workdir / path.name)
    final = False
    try:
        with path.open("rb") as fh:
            while block := fh.read(BLOCK):
                parser.Parse(block, False)
                if budget is not None:
                    budget.check("parsing the XML")
            final = True
            parser.Parse(b"", True)
    except expat.ExpatError as exc:
        where = f"line {exc.lineno}, column {exc.offset + 1}"
        what = expat.ErrorString(exc.code)
        if final and records.depth:
            what = f"the file ends inside <{records.innermost()}> (truncated?): {what}"
        raise BadFile(f"malformed XML at {where}: {what}") from None
    return records.finish()


def _shown(name: str) -> str:
    """Expat's ``uri}local`` as ``{uri}local``, the way XML tools write a namespaced name."""
    return "{" + name if "}" in name else name


class _Records:
    """Expat's callbacks for one document, and the batches of columns they fill.

    The parse is a loop in Python: expat calls ``start``, ``end`` and ``text.append`` once per
    element and text run, since no columnar XML engine is among the dependencies. So the work per
    element is a few attribute reads and list appends; anything rarer (attributes, a new column,
    text between elements, a full batch) is a separate method.

    Depth 1 is the root, 2 a record, 3 and deeper the elements inside it. Character data collects
    in ``text`` until the element around it ends (with no child element, the text is its value)
    or a child starts (then it may only be whitespace between elements).
    """

    def __init__(self, parser: expat.XMLParserType, stem: Path) -> None:
        self.parser = parser
        self.stem = stem
        self.depth = 0
        self.leaf = False  # the innermost open element has no child element (yet)
        self.nil = False  # the innermost open element says xsi:nil="true"
        self.text: list[str] = []
        self.open: list[str] = []  # the key (names joined by SEP) of each element in the record
        self.root = self.record = ""
        self.column_of: dict[str, str] = {}  # element or attribute key -> its column
        self.key_of: dict[str, str] = {}  # column -> its key; insertion order is column order
        self.batch: dict[str, list[str | None]] = {}
        self.rows = 0  # records in the batch
        self.done = 0  # records in the parts written
        self.batch_rows = BATCH_VALUES
        self.parts: list[Path] = []
        parser.buffer_text = True
        parser.buffer_size = 1 << 16
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.text.append
        parser.EntityDeclHandler = self.entity_declared
        parser.SkippedEntityHandler = self.entity_skipped

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if self.text:
            self.between_elements()
        depth = self.depth = self.depth + 1
        self.leaf = True
        self.nil = False
        if depth > 2:
            key = name if depth == 3 else self.open[-1] + SEP + name
            self.open.append(key)
            if attrs:
                self.attributes(key, attrs)
        elif depth == 2:
            if name != self.record:
                self.first_record(name)
            if attrs:
                self.attributes("", attrs)
        else:
            self.root = name

    def end(self, name: str) -> None:
        depth = self.depth
        if depth > 2:
            if self.leaf:
                text = self.text
                value = text[0] if len(text) == 1 else "".join(text)
                text.clear()
                if self.nil:
                    value = self.nil_value(value)
                key = self.open.pop()
                self.put(self.column_of.get(key) or self.new_column(key), value)
            else:
                if self.text:
                    self.between_elements()
                self.open.pop()
        else:
            if self.text:
                self.between_elements()
            if depth == 2:
                self.rows += 1
                if self.rows >= self.batch_rows:
                    self.flush()
        self.depth = depth - 1
        self.leaf = False

    def put(self, column: str, value: str | None) -> None:
        values = self.batch.get(column)
        if values is None:
            self.batch[column] = values = NO_VALUE * self.rows
        elif len(values) != self.rows:
            if len(values) > self.rows:
                raise self.refused(
                    f"{self.describe(self.key_of[column])} appears twice in record "
                    f"{self.done + self.rows + 1:,}: a repeated element has no single column value"
                )
            values.extend(NO_VALUE * (self.rows - len(values)))
        values.append(value)

    def attributes(self, owner: str, attrs: dict[str, str]) -> None:
        for name, value in attrs.items():
            if name.startswith(XSI):  # schema bookkeeping, not data
                if name == XSI + "nil" and owner:
                    self.nil = value.strip() in ("true", "1")
                continue
            key = f"{owner}{SEP}@{name}" if owner else f"@{name}"
            self.put(self.column_of.get(key) or self.new_column(key), value)

    def nil_value(self, value: str | None) -> None:
        if value and value.strip():
            raise self.refused(
                f'<{self.innermost()}> says xsi:nil="true" yet holds the text {_snippet(value)}'
            )
        return None

    def first_record(self, name: str) -> None:
        if self.record:
            raise self.refused(
                f"<{_shown(name)}> is not a <{_shown(self.record)}>: every element under the "
                f"root <{_shown(self.root)}> is one record, and the first one names them all"
            )
        self.record = name

    def new_column(self, key: str) -> str:
        """Name the column of a key first seen; refuse a name another key already has."""
        parts = key.split(SEP)
        column = normalize_name("_".join(p.rpartition("}")[2].lstrip("@") for p in parts))
        if len(self.key_of) >= MAX_COLUMNS:
            raise self.refused(
                f"{self.describe(key)} would be column {MAX_COLUMNS + 1:,}: records this varied "
                "are not a table"
            )
        other = self.key_of.get(column)
        if other is not None:
            same_local = _local(other) == _local(key)  # only the namespaces differ
            raise self.refused(
                f"{self.describe(other)} and {self.describe(key)} would both be column "
                f"{column!r}{' (a column is named by local name)' if same_local else ''}; "
                "rename one at the source"
            )
        self.key_of[column] = key
        self.column_of[key] = column
        self.batch_rows = max(1, BATCH_VALUES // len(self.key_of))
        return column

    def between_elements(self) -> None:
        """Text that is no element's value: whitespace is layout, anything else is refused."""
        text = "".join(self.text)
        self.text.clear()
        if not text or text.isspace():
            return
        if self.depth == 1:
            where = f"directly inside the root <{_shown(self.root)}>, where only records belong"
        elif self.depth == 2:
            where = (
                f"directly inside a <{_shown(self.record)}> record, whose values must be child "
                "elements or attributes"
            )
        else:
            where = f"mixed with child elements inside <{self.innermost()}>"
        raise self.refused(f"the text {_snippet(text)} is {where}")

    def flush(self) -> None:
        """The batch's columns as one Parquet part (all text); records with no value wait."""
        rows = self.rows
        if not rows or not self.key_of:
            return
        # Only the batch's own columns (in first-seen order, as the batch met new ones in the
        # order they were named): the diagonal concat in finish fills the rest with nulls.
        # A batch of records with no value at all still needs one column to hold its rows.
        columns = list(self.batch) or [next(iter(self.key_of))]
        frame = pl.DataFrame(
            {c: self.padded(c, rows) for c in columns}, schema=dict.fromkeys(columns, pl.String)
        )
        part = self.stem.with_name(f"{self.stem.name}.{len(self.parts):05d}.parquet")
        frame.write_parquet(part)
        self.parts.append(part)
        self.done += rows
        self.rows = 0
        self.batch = {}

    def padded(self, column: str, rows: int) -> list[str | None]:
        values = self.batch.get(column) or []
        values.extend(NO_VALUE * (rows - len(values)))
        return values

    def finish(self) -> pl.LazyFrame:
        self.flush()
        if self.rows:
            raise BadFile(
                f"no values: the {self.rows:,} <{_shown(self.record)}> records under "
                f"<{_shown(self.root)}> have no child elements or attributes"
            )
        if not self.parts:
            raise BadFile(
                f"no records: the root element <{_shown(self.root)}> holds no record elements"
            )
        return pl.concat([pl.scan_parquet(p) for p in self.parts], how="diagonal_relaxed")

    def entity_declared(
        self,
        name: str,
        is_parameter: bool,
        value: str | None,
        base: str | None,
        system_id: str | None,
        public_id: str | None,
        notation: str | None,
    ) -> None:
        kind = "external" if system_id else "internal"
        shown = f"%{name}" if is_parameter else name
        raise self.refused(
            f"its DOCTYPE declares the {kind} entity {shown!r}; declared entities are never "
            "expanded (they are how billion-laughs and external-entity attacks work)",
            verdict="refused XML",
        )

    def entity_skipped(self, name: str, is_parameter: bool) -> None:
        shown = f"%{name};" if is_parameter else f"&{name};"
        raise self.refused(
            f"the entity {shown} is not declared in the file and only an external DTD could "
            "define it; external DTDs are never read",
            verdict="refused XML",
        )

    def innermost(self) -> str:
        """The name of the innermost open element, for messages."""
        if self.depth > 2:
            return _shown(self.open[-1].rpartition(SEP)[2])
        return _shown(self.record if self.depth == 2 else self.root)

    def describe(self, key: str) -> str:
        """A column's source for messages: ``element <a>/<b>`` or ``attribute x of <a>``."""
        *path, last = key.split(SEP)
        if last.startswith("@"):
            owner = "/".join(f"<{_shown(p)}>" for p in path) or f"<{_shown(self.record)}>"
            return f"attribute {_shown(last[1:])} of {owner}"
        return "element " + "/".join(f"<{_shown(p)}>" for p in [*path, last])

    def refused(self, what: str, verdict: str = "XML not readable as records") -> BadFile:
        line, column = self.parser.CurrentLineNumber, self.parser.CurrentColumnNumber + 1
        return BadFile(f"{verdict} at line {line}, column {column}: {what}")


def _local(key: str) -> str:
    """A key with its namespaces dropped."""
    return SEP.join(p.rpartition("}")[2] for p in key.split(SEP))


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= 40 else text[:37] + "...")
