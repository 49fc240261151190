"""Ingestion when the world misbehaves: a full disk or temp folder, a file still being written or
rewritten, a file swapped for a link after it was listed, scratch left by a killed process.

The full disk is real: a tiny tmpfs mounted in a private mount namespace (``unshare``) where the
machine allows one, else a file-size limit (``RLIMIT_FSIZE``) on the child process, which makes
the kernel fail the same writes with EFBIG.
"""

from __future__ import annotations

import errno
import gzip
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

import assets.ingestion.landing as landing_module
from assets.core.reader_base import BadFile, environment_cause
from assets.core.scratch import SYSTEM_NAMES, clean_stale_scratch, owner_tag
from assets.core.storage import LakeAt
from assets.ingestion.candidates import local_candidates
from assets.ingestion.landing import (
    FileOutcome,
    ingest_candidates,
    load_ledger,
    scan_table,
)
from assets.ingestion.ledger import save_ledger
from tests.assets.ingestion.test_landing_hostile import ORDERS, ingest, orders_csv


@cache
def can_mount_tmpfs() -> bool:
    """Whether this machine lets a process mount a tmpfs in a private mount namespace."""
    if shutil.which("unshare") is None:
        return False
    with tempfile.TemporaryDirectory() as where:
        done = subprocess.run(
            ["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=64k none "$0"', where],
            capture_output=True,
            timeout=30,
        )
    return done.returncode == 0


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (48_000, 48_000))


def run_full(kind: str, full_dir: Path, script: str, *args: str, tmpdir: Path | None = None):
    """Run ``script`` in a child whose writes into ``full_dir`` fail: ``enospc`` mounts a 48 KB
    tmpfs there, ``erofs`` makes it read-only (what a folder without write permission is, even
    to root); ``efbig`` limits every file the child writes to 48 KB instead."""
    env = dict(os.environ, PYTHONPATH=str(Path.cwd()))
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    cmd = [sys.executable, "-c", script, *args]
    preexec: Callable[[], None] | None = None
    if kind == "efbig":
        preexec = _limit_file_size
    else:
        if not can_mount_tmpfs():
            pytest.skip("no private mount namespace here (unshare -rm); the efbig case runs")
        mount = {
            "enospc": 'mount -t tmpfs -o size=48k none "$0"',
            "erofs": 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0"',
        }[kind]
        cmd = ["unshare", "-rm", "sh", "-c", f'{mount} && shift && exec "$@"', str(full_dir), "-"]
        cmd += [sys.executable, "-c", script, *args]
    done = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=300, preexec_fn=preexec
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


PASS = """
import sys
from pathlib import Path
from assets.core.reader_base import EnvironmentFault
from tests.assets.ingestion.test_landing_hostile import ingest
try:
    report = ingest(Path(sys.argv[1]))
    print("finished", [(o.status, o.reason) for o in report.outcomes])
except EnvironmentFault as exc:
    print("fault", exc)
"""


@pytest.mark.parametrize("kind", ["enospc", "efbig", "erofs"])
def test_a_full_lake_disk_fails_the_pass_and_the_file_is_read_once_there_is_room(tmp_path, kind):
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    (folder / "good.csv").write_text(orders_csv(20_000))  # a ~100 KB part: over the 48 KB
    (tmp_path / "lake" / "orders").mkdir(parents=True)
    out = run_full(kind, tmp_path / "lake" / "orders", PASS, str(tmp_path))
    words = {
        "enospc": "No space left on device",
        "efbig": "File too large",
        "erofs": "Read-only file system",
    }[kind]
    # A read-only lake stops the pass before any file (the table's schema part is written
    # first); a full one, at the file.
    start = "fault orders: " if kind == "erofs" else "fault orders: reading orders/good.csv: "
    assert out.startswith(start) and words in out, out
    # Nothing was blamed on the file: no ledger row, no quarantine copy.
    assert not (tmp_path / "state" / "orders.parquet").exists()
    assert not (tmp_path / "quarantine").exists()
    # With room again (no tmpfs, no limit) the same file is read, whole.
    report = ingest(tmp_path)
    assert [(o.status, o.rows) for o in report.outcomes] == [("ingested", 20_000)]


@pytest.mark.parametrize("kind", ["enospc", "efbig"])
def test_a_full_temp_folder_is_not_taken_for_a_corrupt_gzip(tmp_path, kind):
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    (folder / "good.csv.gz").write_bytes(gzip.compress(orders_csv(3000).encode("cp1252")))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    out = run_full(kind, scratch, PASS, str(tmp_path), tmpdir=scratch)
    assert out.startswith("fault orders: reading orders/good.csv.gz: "), out
    assert not (tmp_path / "state" / "orders.parquet").exists()
    report = ingest(tmp_path)
    assert [(o.status, o.rows) for o in report.outcomes] == [("ingested", 3000)]


@pytest.mark.parametrize(
    "error",
    [
        PermissionError(errno.EACCES, "Permission denied", "/lake/part.parquet"),
        OSError(errno.EDQUOT, "Disk quota exceeded"),
        MemoryError(),
        ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
        pl.exceptions.ComputeError("parquet: underlying IO error: Permission denied (os error 13)"),
        duckdb.IOException('IO Error: {"exception_message":"Could not write file","errno":"122"}'),
        duckdb.IOException('IO Error: Cannot open file "x.parquet": Read-only file system'),
    ],
)
def test_faults_of_the_machine_are_told_from_faults_of_the_file(error):
    """The faults a test cannot make for real here (root ignores permissions, quotas need a
    mounted quota): how Python, Polars and DuckDB report them is recognised."""
    assert environment_cause(error) is not None
    wrapped = BadFile("no")  # a reader's verdict that hid such an error is not trusted either
    wrapped.__cause__ = error
    assert environment_cause(wrapped) is not None
    for verdict in (
        BadFile("unparseable csv: an unterminated or unescaped quote"),
        OSError("Not a gzipped file (b'ab')"),
        RuntimeError("parquet: File out of specification: invalid footer (os error 2)"),
        # Messages that quote the file are never read for a machine fault.
        BadFile("the text 'No space left on device (os error 28)' is directly inside the root"),
        duckdb.InvalidInputException('Object {"a":"Permission denied","a":1} has duplicate key'),
    ):
        assert environment_cause(verdict) is None, verdict


def test_quarantines_that_were_machine_faults_are_read_again(tmp_path):
    """Ledgers written before faults failed the step hold such verdicts; they are forgotten."""
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    (folder / "good.csv").write_text(orders_csv(10))
    (folder / "bad.csv").write_text("no,columns\n1,2\n")
    first = ingest(tmp_path)
    assert sorted(o.status for o in first.outcomes) == ["ingested", "quarantined"]
    ledger_path = tmp_path / "state" / "orders.parquet"
    ledger = load_ledger(ledger_path)
    good = next(o for o in first.outcomes if o.status == "ingested")
    (tmp_path / "lake" / "orders" / good.part).unlink()
    wrong = FileOutcome(
        good.path,
        good.sha256,
        good.size,
        good.mtime_ns,
        "quarantined",
        reason="unparseable csv: parquet: File out of specification: underlying IO error: No "
        "space left on device (os error 28)",
    )
    save_ledger(ledger.filter(ledger["status"] != "ingested"), [wrong], ledger_path)
    logged: list[str] = []
    again = ingest(tmp_path, log=logged.append)
    assert [(Path(o.path).name, o.status, o.rows) for o in again.outcomes] == [
        ("good.csv", "ingested", 10)
    ]
    assert any("was a fault of the machine" in m for m in logged)
    assert scan_table(tmp_path / "lake" / "orders").collect().height == 10
    statuses = load_ledger(ledger_path).sort("path")["status"].to_list()
    assert statuses == ["quarantined", "ingested"]  # bad.csv's verdict stays; the wrong one went


def test_a_full_disk_fails_the_raw_asset_step_after_its_retries(tmp_path):
    """Through Dagster: the step fails (and was retried), it does not succeed with a quarantine."""
    folder = tmp_path / "data" / "landing" / "orders"
    folder.mkdir(parents=True)
    (folder / "good.csv").write_text(orders_csv(20_000))
    lake = tmp_path / "data" / "lake" / "ingestion" / "raw_orders"
    lake.mkdir(parents=True)
    out = run_full("enospc" if can_mount_tmpfs() else "efbig", lake, MATERIALIZE, str(tmp_path))
    assert out == "success=False retries=2", out
    assert not (tmp_path / "data" / "quarantine").exists()
    with dg.instance_for_test() as instance:
        result = _materialize_raw_orders(tmp_path, instance)
        assert result.success
        meta = result.asset_materializations_for_node("raw_orders")[0].metadata
        assert meta["new_rows"].value == 20_000


MATERIALIZE = """
import sys
from pathlib import Path
import dagster as dg
import assets.ingestion.defs as defs
from tests.assets.ingestion.test_landing_faults import _materialize_raw_orders
defs.ENVIRONMENT_RETRY_WAIT_S = 0
result = _materialize_raw_orders(Path(sys.argv[1]), None)  # in memory: no instance files
retries = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
print(f"success={result.success} retries={len(retries)}")
"""


def _materialize_raw_orders(
    root: Path, instance: dg.DagsterInstance | None
) -> dg.ExecuteInProcessResult:
    from pipeline_defs import build_definitions
    from pipeline_defs.settings import Settings

    d = build_definitions(Settings.from_env({"PIPELINE_DATA_DIR": str(root / "data")}))
    return dg.materialize(
        list(d.assets),  # type: ignore[arg-type]
        resources=d.resources,
        instance=instance,
        selection=dg.AssetSelection.assets("raw_orders"),
        raise_on_error=False,
    )


@pytest.mark.e2e
def test_a_file_still_being_written_is_left_for_the_next_run_and_read_once(tmp_path):
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    path = folder / "growing.csv"
    path.write_text(orders_csv(0))  # the header alone
    started = threading.Event()

    def writer() -> None:
        for k in range(40):  # 40 appends of 50 rows, one every 0.1 s
            with path.open("a") as fh:
                fh.write(orders_csv(50, start=k * 50).split("\n", 1)[1])
            started.set()
            time.sleep(0.1)

    thread = threading.Thread(target=writer)
    thread.start()
    started.wait()
    logged: list[str] = []
    first = ingest(tmp_path, settle_seconds=1.0, log=logged.append)
    thread.join()
    assert first.outcomes == []
    assert first.deferred == [
        ("orders/growing.csv", "it is still being written (it changed within 1 s)")
    ]
    assert any(m.startswith("Left orders/growing.csv for the next run") for m in logged)
    assert not (tmp_path / "state" / "orders.parquet").exists()
    second = ingest(tmp_path, settle_seconds=1.0)
    assert [(o.status, o.rows) for o in second.outcomes] == [("ingested", 2000)]
    assert scan_table(tmp_path / "lake" / "orders").collect().height == 2000


def test_bytes_rewritten_under_an_ingested_name_are_refused_and_kept(tmp_path):
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    path = folder / "daily.csv"
    path.write_text(orders_csv(100))
    assert ingest(tmp_path).rows == 100
    path.write_text(orders_csv(150))  # the same rows again, and 50 more
    report = ingest(tmp_path)
    [outcome] = report.outcomes
    assert outcome.status == "refused"
    assert outcome.reason.startswith("its bytes changed after earlier bytes (sha256 ")
    assert "land new data under a new name" in outcome.reason
    copies = list((tmp_path / "quarantine" / "orders").glob("*-daily.csv"))
    assert [c.read_bytes() for c in copies] == [path.read_bytes()]
    assert scan_table(tmp_path / "lake" / "orders").collect().height == 100  # not 250
    assert ingest(tmp_path).outcomes == []  # said once
    # The new bytes under a new name are new data: ingested, not a "duplicate" of the refusal.
    (folder / "daily-2.csv").write_bytes(path.read_bytes())
    assert [(o.status, o.rows) for o in ingest(tmp_path).outcomes] == [("ingested", 150)]


def test_a_file_changed_while_it_is_read_is_not_recorded(tmp_path, monkeypatch):
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    path = folder / "late.csv"
    path.write_text(orders_csv(20))
    real = landing_module.ingest_file

    def write_during_the_read(*args, **kwargs):
        # A producer appending between the hash and the read; the timing is forced here, the
        # write and the file are real.
        with path.open("a") as fh:
            fh.write(orders_csv(1, start=999).split("\n", 1)[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(landing_module, "ingest_file", write_during_the_read)
    first = ingest(tmp_path)
    assert first.outcomes == [] and first.deferred == [
        ("orders/late.csv", "it changed while it was being read")
    ]
    assert sorted(p.name for p in (tmp_path / "lake" / "orders").iterdir()) == [
        "part-0000-schema.parquet"
    ]
    monkeypatch.setattr(landing_module, "ingest_file", real)
    assert [(o.status, o.rows) for o in ingest(tmp_path).outcomes] == [("ingested", 21)]


def _secret(tmp_path: Path) -> Path:
    secret = tmp_path / "secret" / "a.csv"
    secret.parent.mkdir()
    secret.write_text(orders_csv(2, start=666))
    return secret


@pytest.mark.parametrize("swap", ["symlink", "other file", "parent folder link"])
def test_a_file_swapped_after_listing_is_not_read(tmp_path, swap):
    secret = _secret(tmp_path)
    folder = tmp_path / "landing" / "orders"
    (folder / "sub").mkdir(parents=True)
    target = folder / "sub" / "a.csv"
    target.write_text(orders_csv(3))
    candidates, refused = local_candidates(tmp_path / "landing", "orders")
    if swap == "symlink":
        target.unlink()
        target.symlink_to(secret)
    elif swap == "other file":
        shutil.copyfile(secret, folder / "sub" / ".swap")
        (folder / "sub" / ".swap").replace(target)
    else:
        (folder / "sub").rename(folder / ".old")
        (folder / "sub").symlink_to(secret.parent, target_is_directory=True)
    report = ingest_candidates(
        ORDERS,
        candidates,
        refused=refused,
        table_dir=tmp_path / "lake" / "orders",
        ledger_path=tmp_path / "state" / "orders.parquet",
        quarantine_dir=tmp_path / "quarantine" / "orders",
        settle_seconds=0,
    )
    assert report.outcomes == []
    why = "symbolic link" if swap == "symlink" else "another file"
    [(rel, reason)] = report.deferred
    assert rel == "orders/sub/a.csv" and "after it was listed" in reason and why in reason
    assert not (tmp_path / "quarantine").exists()
    assert sorted(p.name for p in (tmp_path / "lake" / "orders").iterdir()) == [
        "part-0000-schema.parquet"
    ]
    # The next listing judges what is there now: a link out of the zone is refused, a regular
    # file is read, a folder link is not followed.
    again = ingest(tmp_path)
    if swap == "other file":
        assert [(o.status, o.rows) for o in again.outcomes] == [("ingested", 2)]
    elif swap == "symlink":
        assert [o.status for o in again.outcomes] == ["refused"]
        assert "links outside the landing zone" in again.outcomes[0].reason
    else:
        assert again.outcomes == []  # a linked folder is not walked


def test_a_hard_link_to_a_file_outside_the_folder_is_refused(tmp_path):
    secret = _secret(tmp_path)
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    os.link(secret, folder / "h.csv")
    (folder / "good.csv").write_text(orders_csv(3))
    os.link(folder / "good.csv", folder / "good-too.csv")  # both names inside: fine
    report = ingest(tmp_path)
    got = {Path(o.path).name: (o.status, o.reason) for o in report.outcomes}
    assert got["h.csv"] == (
        "refused",
        "it is a hard link: the file has 2 names and only 1 of them in this folder, so its "
        "content may come from outside the landing zone",
    )
    assert sorted([got["good.csv"][0], got["good-too.csv"][0]]) == ["duplicate", "ingested"]
    assert scan_table(tmp_path / "lake" / "orders").collect().height == 3
    assert not list((tmp_path / "quarantine" / "orders").glob("*-h.csv"))  # never copied


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_scratch_goes_and_live_or_recent_scratch_stays(tmp_path):
    old = time.time() - 3600

    def folder(name: str, age: float | None = old) -> Path:
        path = tmp_path / name
        (path / "sub").mkdir(parents=True)
        (path / "sub" / "x.parquet").write_bytes(b"x")
        if age is not None:
            for p in (path / "sub" / "x.parquet", path / "sub", path):
                os.utime(p, (age, age))
        return path

    dead = _dead_pid()
    gone = [
        folder(f"ingest-orders-p{dead}.1-abcd1234"),
        folder("pull-orders-x_yz9876"),  # from code that named no owner
        folder(f"lake-upload-p{dead}.1-abcd1234"),
    ]
    live = folder(f"ingest-orders-{owner_tag()}-abcd1234")
    recent = folder(f"ingest-orders-p{dead}.1-new12345", age=None)
    held = folder("ingest-held-abcd1234")
    others = [folder("someone-else"), folder("pull-request-drafts"), folder("ingest-orders-notes")]
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], cwd=held)
    try:
        removed = clean_stale_scratch(tmp_path, SYSTEM_NAMES, older_than_s=600)
    finally:
        holder.kill()
        holder.wait()
    assert sorted(removed) == sorted(gone)
    assert all(p.exists() for p in (live, recent, held, *others))


KILLED = """
import sys, time
from pathlib import Path
from assets.core.storage import LakeAt
lake = LakeAt(sys.argv[1])
scratch = lake.scratch_dir()
(scratch / "work").mkdir()
from tests.assets.ingestion.test_landing_hostile import ingest
print("ready", scratch, flush=True)
ingest(Path(sys.argv[2]))
"""


def test_scratch_of_a_killed_run_is_removed_by_the_next(tmp_path, monkeypatch):
    data = tmp_path / "data"
    folder = data / "landing" / "orders"
    folder.mkdir(parents=True)
    (folder / "big.csv").write_text(orders_csv(400_000))
    system_tmp = tmp_path / "tmp"
    system_tmp.mkdir()
    env = dict(os.environ, PYTHONPATH=str(Path.cwd()), TMPDIR=str(system_tmp))
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED, str(tmp_path / "lake"), str(data)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    assert line[0] == "ready"
    deadline = time.monotonic() + 120
    while not list(system_tmp.glob("ingest-orders-*")):
        assert time.monotonic() < deadline and proc.poll() is None, "no ingest scratch appeared"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = [Path(line[1]), *system_tmp.glob("ingest-orders-*")]
    assert all(p.exists() for p in left)  # kill -9 runs no cleanup
    monkeypatch.setattr("tempfile.tempdir", str(system_tmp))
    lake = LakeAt(str(tmp_path / "lake"))
    removed = lake.clean_scratch(older_than_s=0)
    assert sorted(removed) == sorted(left)
    assert not any(p.exists() for p in left)
    assert lake.scratch_dir().exists()  # this process's own folder is made afresh


def test_temp_files_of_killed_writes_in_the_lake_are_removed_by_the_next_pass(tmp_path):
    table = tmp_path / "lake" / "orders"
    table.mkdir(parents=True)
    (tmp_path / "state").mkdir()
    old = time.time() - 3600
    dead = _dead_pid()

    def temp(path: Path, age: float | None = old) -> Path:
        path.write_bytes(b"half a parquet file")
        if age is not None:
            os.utime(path, (age, age))
        return path

    gone = [
        temp(table / f".part-0123456789abcdef.parquet.{dead}.tmp"),
        temp(tmp_path / "state" / ".orders.parquet.k3j_x9q2.tmp"),
    ]
    kept = [
        temp(table / f".part-fedcba9876543210.parquet.{os.getpid()}.tmp"),  # a live writer
        temp(table / f".part-aaaaaaaaaaaaaaaa.parquet.{dead}.tmp", age=None),  # just written
        temp(table / ".notes.tmp"),  # not the shape of a temp file of ours
    ]
    logged: list[str] = []
    ingest(tmp_path, log=logged.append)
    assert not any(p.exists() for p in gone)
    assert all(p.exists() for p in kept)
    assert sorted(m for m in logged if m.startswith("Removed")) == sorted(
        f"Removed {p}: the temp file of a write that was killed." for p in gone
    )
