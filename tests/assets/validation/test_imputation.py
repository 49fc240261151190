"""auto_fix: required values imputed (median or most frequent), and outliers capped."""

from assets.validation.outliers import flag_outliers, outlier_fences
from assets.validation.rules import FIXES, RULES
from tests.assets.validation.rows import SPEC, flag, frame


def test_auto_fix_imputes_required_values_and_caps_outliers():
    lf = frame(
        {"qty": 2},
        {"qty": 4},
        {"qty": None, "_ingest_errors": '{"qty": "N/A"}'},
        *[{"price": p, "parent_id": None} for p in [10.0, 11.0, 12.0, 13.0, 500.0]],
    )
    flagged = flag(lf, auto_fix=True)
    assert flagged[RULES].to_list()[2] == []  # imputed, so no longer failing
    assert flagged["qty"][2] == 3  # the median of the valid quantities
    assert flagged[FIXES].to_list()[2] == ["imputed:qty"]
    assert flagged["_ingest_errors"][2] is None
    capped = flag_outliers(
        flagged.lazy(), SPEC, outlier_fences(flagged.lazy(), SPEC), cap=True
    ).collect()
    assert capped["price"][-1] < 500.0 and "capped:price" in capped[FIXES][-1]


def test_auto_fix_never_imputes_a_personal_column():
    import polars as pl

    from assets.core.spec import DatasetSpec
    from assets.validation.imputation import imputation_values

    spec = DatasetSpec.model_validate(
        {
            "name": "people",
            "columns": [
                {"name": "email", "type": "string", "required": True, "pii": True},
                {"name": "plan", "type": "string", "required": True},
            ],
        }
    )
    rows = pl.LazyFrame({"email": ["zelda@privacy-probe.example"] * 3 + [None], "plan": ["a"] * 4})
    # The most frequent e-mail is one person's: giving it to another row would be worse than
    # quarantining that row.
    assert imputation_values(rows, spec) == {"plan": "a"}
