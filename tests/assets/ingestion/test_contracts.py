from pathlib import Path

import pytest

from assets.core.spec import SpecError, load_catalog, load_spec_file

BUILTIN = ["customers", "orders", "products", "support_tickets", "usage_events"]


def test_builtin_catalog_declares_the_five_entities_with_their_required_columns():
    catalog = load_catalog()
    assert sorted(catalog) == BUILTIN
    assert catalog["orders"].key == ["order_id"]
    assert {fk.references for fk in catalog["orders"].foreign_keys} == {"customers", "products"}
    assert set(catalog["customers"].required_columns) >= {"customer_id", "email", "plan_type"}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


def test_unknown_key_column_names_the_field_and_suggests_the_nearest(tmp_path):
    path = _write(tmp_path, "name: invoices\ncolumns:\n  - {name: invoice_id}\nkey: [invoce_id]\n")
    with pytest.raises(SpecError) as err:
        load_spec_file(path)
    assert str(err.value) == (
        f"{path}: field 'key': unknown column 'invoce_id'; did you mean 'invoice_id'?"
    )


def test_wrong_type_names_the_file_and_the_field(tmp_path):
    path = _write(tmp_path, "name: invoices\ncolumns:\n  - {name: total, type: money}\n")
    with pytest.raises(SpecError) as err:
        load_spec_file(path)
    assert f"{path}: field 'columns.0.type'" in str(err.value)


def test_foreign_key_to_unknown_dataset_is_refused(tmp_path):
    (tmp_path / "inv.yaml").write_text(
        "name: invoices\ncolumns:\n  - {name: customer_id}\n"
        "foreign_keys:\n  - {columns: [customer_id], references: customer,"
        " ref_columns: [customer_id]}\n"
    )
    with pytest.raises(SpecError, match="unknown dataset 'customer'; did you mean 'customers'"):
        load_catalog([tmp_path])
