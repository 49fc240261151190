"""The XML landing reader on small real-looking files: what it reads, what it refuses and why."""

from __future__ import annotations

from pathlib import Path
from xml.parsers import expat

import polars as pl
import pytest

from assets.core import xml_reader
from assets.core.readers import BadFile, read_landing_file


def read(tmp_path: Path, xml: str | bytes, name: str = "export.xml") -> pl.DataFrame:
    path = tmp_path / name
    path.write_bytes(xml.encode("utf-8") if isinstance(xml, str) else xml)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    lf, info = read_landing_file(path, "xml", work, [])
    assert info["format"] == "xml"
    return lf.collect()


def refusal(tmp_path: Path, xml: str | bytes) -> str:
    with pytest.raises(BadFile) as caught:
        read(tmp_path, xml)
    return str(caught.value)


def test_comments_and_processing_instructions_are_not_values(tmp_path):
    frame = read(
        tmp_path,
        """<?xml version="1.0" encoding="UTF-8"?>
<?xml-stylesheet type="text/xsl" href="customers.xsl"?>
<!-- Exported from CRM 7.2 on 2025-03-01 -->
<customers>
  <customer>
    <customer_id>C001</customer_id>
    <!-- <plan_type>enterprise</plan_type> until the March migration -->
    <plan_type>pro</plan_type>
    <?crm-audit checked="yes"?>
    <name>Ann Lee</name>
  </customer>
</customers>
""",
    )
    assert frame.to_dicts() == [{"customer_id": "C001", "plan_type": "pro", "name": "Ann Lee"}]


def test_character_and_entity_references_are_decoded(tmp_path):
    frame = read(
        tmp_path,
        "<suppliers><supplier><name>Ren&#233;e O&#x2019;Brien &amp; Sons &lt;UK&gt;</name>"
        "<motto>&quot;Fast&quot; &apos;n&apos; fair</motto></supplier></suppliers>",
    )
    assert frame.row(0) == ("Renée O\u2019Brien & Sons <UK>", "\"Fast\" 'n' fair")


def test_cdata_is_kept_whole_and_significant_whitespace_exactly(tmp_path):
    frame = read(
        tmp_path,
        """<tickets>
\t<ticket>
\t\t<id>T-1</id>
\t\t<body><![CDATA[The page shows </body> & <b>nothing</b> else]]></body>
\t\t<note>  <![CDATA[<i>urgent</i>]]> twice  </note>
\t\t<summary>line one
line two</summary>
\t</ticket>
</tickets>
""",
    )
    assert frame.columns == ["id", "body", "note", "summary"]  # the layout's whitespace is no value
    assert frame.row(0) == (
        "T-1",
        "The page shows </body> & <b>nothing</b> else",
        "  <i>urgent</i> twice  ",
        "line one\nline two",
    )


def test_a_namespaced_file_names_columns_by_local_name(tmp_path):
    frame = read(
        tmp_path,
        """<?xml version="1.0" encoding="UTF-8"?>
<crm:export xmlns:crm="urn:example:crm:v2" xmlns="urn:example:customer"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="urn:example:customer customer.xsd" generated="2025-03-01">
  <customer>
    <customer_id>C001</customer_id>
    <crm:plan_type>pro</crm:plan_type>
    <email xsi:nil="true"/>
  </customer>
  <customer>
    <customer_id>C002</customer_id>
    <crm:plan_type>free</crm:plan_type>
    <email>bo@example.com</email>
  </customer>
</crm:export>
""",
    )
    # Root attributes describe the export, not a record; xsi:nil is a null, not a column.
    assert frame.to_dicts() == [
        {"customer_id": "C001", "plan_type": "pro", "email": None},
        {"customer_id": "C002", "plan_type": "free", "email": "bo@example.com"},
    ]


def test_two_namespaces_with_one_local_name_are_refused_naming_both(tmp_path):
    reason = refusal(
        tmp_path,
        '<orders xmlns:erp="urn:erp" xmlns:shop="urn:shop">\n'
        "  <order><erp:id>17</erp:id><shop:id>A-17</shop:id></order>\n</orders>\n",
    )
    assert reason.startswith("XML not readable as records at line 2, column ")
    assert "element <{urn:erp}id> and element <{urn:shop}id> would both be column 'id'" in reason


def test_attributes_become_columns(tmp_path):
    frame = read(
        tmp_path,
        """<posts>
  <row Id="1" PostTypeId="1" CreationDate="2024-01-01T10:00:00" Title="How to &quot;quote&quot;?"/>
  <row Id="2" PostTypeId="2" ParentId="1" CreationDate="2024-01-01T11:00:00"/>
</posts>
""",
    )
    assert frame.to_dicts() == [
        {
            "id": "1",
            "posttypeid": "1",
            "creationdate": "2024-01-01T10:00:00",
            "title": 'How to "quote"?',
            "parentid": None,
        },
        {
            "id": "2",
            "posttypeid": "2",
            "creationdate": "2024-01-01T11:00:00",
            "title": None,
            "parentid": "1",
        },
    ]
    nested = read(
        tmp_path,
        '<orders><order id="O1"><total currency="EUR">10.50</total>'
        "<ship><address kind='home'><city>Lyon</city></address></ship></order></orders>",
    )
    assert nested.to_dicts() == [
        {
            "id": "O1",
            "total_currency": "EUR",
            "total": "10.50",
            "ship_address_kind": "home",
            "ship_address_city": "Lyon",
        }
    ]


def test_an_attribute_and_an_element_of_one_name_are_refused(tmp_path):
    reason = refusal(tmp_path, '<orders>\n<order id="O1"><id>1</id></order>\n</orders>')
    assert reason == (
        "XML not readable as records at line 2, column 21: attribute id of <order> and "
        "element <id> would both be column 'id'; rename one at the source"
    )


def test_one_record_and_no_record(tmp_path):
    one = read(tmp_path, '<orders><order id="O1" total="9.99"/></orders>')
    assert one.to_dicts() == [{"id": "O1", "total": "9.99"}]
    for empty in ("<orders/>", "<orders>\n  <!-- nothing today -->\n</orders>\n"):
        reason = refusal(tmp_path, empty)
        assert reason == "no records: the root element <orders> holds no record elements"


MALFORMED = """<orders>
  <order><id>O1</id><qty>2</qty></order>
  <order><id>O2</id><qty>3</quantity></order>
</orders>
"""


def test_malformed_and_truncated_files_are_refused_with_line_and_column(tmp_path):
    assert refusal(tmp_path, MALFORMED) == "malformed XML at line 3, column 29: mismatched tag"
    # Cut after a complete record: every record so far reads well, but the file is not whole.
    cut = "<orders>\n  <order><id>O1</id></order>\n  <order><id>O2</id></order>\n"
    assert refusal(tmp_path, cut) == (
        "malformed XML at line 4, column 1: the file ends inside <orders> (truncated?): "
        "no element found"
    )
    assert "the file ends inside <id> (truncated?)" in refusal(tmp_path, cut + "<order><id>O")
    assert refusal(tmp_path, "<orders><order><id>1</id></order></orders>\n<orders/>") == (
        "malformed XML at line 2, column 1: junk after document element"
    )
    assert refusal(tmp_path, "<r><o><name>a&nbsp;b</name></o></r>") == (
        "malformed XML at line 1, column 14: undefined entity"
    )


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE orders [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<orders><order><note>&lol9;</note></order></orders>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE orders [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<orders><order><note>&xxe;</note></order></orders>
"""


def test_entity_declarations_are_refused_never_expanded(tmp_path):
    assert refusal(tmp_path, BILLION_LAUGHS) == (
        "refused XML at line 3, column 16: its DOCTYPE declares the internal entity 'lol'; "
        "declared entities are never expanded (they are how billion-laughs and external-entity "
        "attacks work)"
    )
    reason = refusal(tmp_path, EXTERNAL_ENTITY)
    assert reason.startswith("refused XML at line 2, column 59: its DOCTYPE declares the external")
    assert "root:" not in reason
    # An external DTD is never read, so an entity only it could define has no known text.
    external_dtd = '<!DOCTYPE orders SYSTEM "orders.dtd">\n<orders><order><note>a&nbsp;b</note>'
    assert refusal(tmp_path, external_dtd + "</order></orders>") == (
        "refused XML at line 2, column 23: the entity &nbsp; is not declared in the file and "
        "only an external DTD could define it; external DTDs are never read"
    )
    # A DOCTYPE with no entity in play is harmless.
    assert read(tmp_path, external_dtd.replace("&nbsp;", " ") + "</order></orders>").item() == "a b"


def test_the_installed_expat_expands_what_a_doctype_declares(tmp_path):
    """Why the reader refuses: left alone, expat (this interpreter's pyexpat) expands a declared
    entity, and its own billion-laughs guard (expat >= 2.4) only steps in after megabytes."""
    parser = expat.ParserCreate()
    text: list[str] = []
    parser.CharacterDataHandler = text.append
    parser.Parse(b'<!DOCTYPE r [<!ENTITY e "from the DTD">]><r>&e;</r>', True)
    assert "".join(text) == "from the DTD", expat.EXPAT_VERSION
    if expat.version_info >= (2, 4, 0):
        with pytest.raises(expat.ExpatError, match="amplification"):
            expat.ParserCreate().Parse(BILLION_LAUGHS.encode(), True)


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        (
            "<contacts><contact><phone>1</phone><phone>2</phone></contact></contacts>",
            "element <phone> appears twice in record 1: a repeated element has no single column "
            "value",
        ),
        (
            "<tags><tag>red</tag></tags>",
            "the text 'red' is directly inside a <tag> record, whose values must be child "
            "elements or attributes",
        ),
        (
            "<orders><order><id>1</id></order><summary><count>1</count></summary></orders>",
            "<summary> is not a <order>: every element under the root <orders> is one record, "
            "and the first one names them all",
        ),
        (
            "<notes><note><body>Hello <b>world</b></body></note></notes>",
            "the text 'Hello' is mixed with child elements inside <body>",
        ),
        (
            "<orders>total: 1<order><id>1</id></order></orders>",
            "the text 'total: 1' is directly inside the root <orders>, where only records belong",
        ),
        (
            '<r xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            '<o><note xsi:nil="true">x</note></o></r>',
            "<note> says xsi:nil=\"true\" yet holds the text 'x'",
        ),
        (
            "<orders><order><Order-ID>1</Order-ID><order_id>1</order_id></order></orders>",
            "element <Order-ID> and element <order_id> would both be column 'order_id'",
        ),
    ],
)
def test_what_has_no_single_column_value_is_refused(tmp_path, xml, reason):
    got = refusal(tmp_path, xml)
    assert got.startswith("XML not readable as records at line 1, column ")
    assert reason in got


def test_columns_first_seen_late_keep_every_value_across_batches(tmp_path, monkeypatch):
    records = []
    for i in range(300):
        # A record with nothing in it is a row of nulls, even a whole batch of them.
        order_id = "" if 100 <= i < 200 else f"<id>O{i}</id>"
        coupon = "<coupon>SPRING</coupon>" if i == 249 else ""
        records.append(f"  <order>{order_id}{coupon}</order>\n")
    xml = "<orders>\n" + "".join(records) + "</orders>\n"
    monkeypatch.setattr(xml_reader, "BATCH_VALUES", 50)
    frame = read(tmp_path, xml)
    assert len(list((tmp_path / "work").glob("export.xml.*.parquet"))) > 5  # many batches
    assert frame.columns == ["id", "coupon"]
    assert frame["id"].to_list() == [None if 100 <= i < 200 else f"O{i}" for i in range(300)]
    assert frame["coupon"].to_list() == [None] * 249 + ["SPRING"] + [None] * 50


def test_a_file_of_ever_new_element_names_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(xml_reader, "MAX_COLUMNS", 3)
    body = "".join(f"<o><f{i}>1</f{i}></o>" for i in range(4))
    assert refusal(tmp_path, f"<r>{body}</r>") == (
        "XML not readable as records at line 1, column 63: element <f3> would be column 4: "
        "records this varied are not a table"
    )


def test_a_latin1_file_declaring_its_encoding_reads_as_its_bytes_say(tmp_path):
    xml = '<?xml version="1.0" encoding="ISO-8859-1"?>\n<r><o><city>Málaga</city></o></r>\n'
    assert read(tmp_path, xml.encode("latin-1")).item() == "Málaga"
