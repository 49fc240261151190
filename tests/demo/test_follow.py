"""The demo's follower reads a real run's events: the story it prints and the facts it keeps."""

import io
import time

import dagster as dg

from demo.run import HEARTBEAT_S, Follower


@dg.asset
def numbers(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    context.log.info("made 3 rows")
    return dg.MaterializeResult(metadata={"rows_in": 3})


@dg.asset_check(asset=numbers)
def numbers_have_no_outliers() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=False, severity=dg.AssetCheckSeverity.WARN, metadata={"outliers": 2}
    )


def _run(instance: dg.DagsterInstance) -> str:
    result = dg.materialize([numbers, numbers_have_no_outliers], instance=instance)
    assert result.success
    return result.run_id


def test_the_follower_prints_the_steps_own_lines_and_keeps_the_runs_facts():
    with dg.instance_for_test() as instance:
        run_id = _run(instance)
        out = io.StringIO()
        follower = Follower(instance, run_id, verbose=False, out=out)
        follower.poll()
    lines = out.getvalue().splitlines()
    assert "numbers: made 3 rows" in [line.split("] ")[-1].strip() for line in lines]
    assert not any("STEP_START" in line or "DEBUG" in line for line in lines)
    assert follower.materialized["numbers"]["rows_in"] == 3
    [check] = follower.checks
    assert (check.name, check.asset, check.severity, check.passed) == (
        "numbers_have_no_outliers",
        "numbers",
        "WARN",
        False,
    )
    assert check.metadata == {"outliers": 2}
    assert follower.began is not None and follower.ended is not None
    assert follower.ended >= follower.began


def test_verbose_prints_every_event():
    with dg.instance_for_test() as instance:
        run_id = _run(instance)
        out = io.StringIO()
        Follower(instance, run_id, verbose=True, out=out).poll()
    text = out.getvalue()
    assert "STEP_START" in text and "DEBUG" in text and "made 3 rows" in text


def test_a_long_step_says_it_is_still_running_every_heartbeat():
    out = io.StringIO()
    with dg.instance_for_test() as instance:
        follower = Follower(instance, "no-run", verbose=False, out=out)
        # Steps are stamped by their events' timestamps (epoch seconds).
        follower.started["churn_model"] = time.time() - HEARTBEAT_S - 5
        follower.heartbeat()
        follower.heartbeat()  # just said so: nothing new
    assert out.getvalue().splitlines() == [
        f"  churn_model: still running ({HEARTBEAT_S + 5:.0f} s)"
    ]
