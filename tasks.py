#!/usr/bin/env python3
"""Project commands that work on a fresh machine with only Python 3.11+ and git.

    python3 tasks.py demo        install everything, run full_pipeline on generated sample data
    python3 tasks.py test [ARGS] install everything, run the full test suite in parallel (ARGS go to
                                 pytest; -m "not e2e" is the fast tier)
    python3 tasks.py lint        ruff check, ruff format --check, pyright
    python3 tasks.py dev         the Dagster UI and daemon (dagster dev) on 127.0.0.1:3000

The first call creates .venv, installs uv into it from PyPI and syncs the locked dependencies,
compiling their bytecode.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
UV_VERSION = "0.13.9"
PARALLEL = ["-n", "auto", "--maxprocesses", "4", "--dist", "loadgroup"]


def run(*cmd: str | Path, env: dict[str, str] | None = None) -> None:
    result = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env)
    if result.returncode != 0:
        sys.exit(result.returncode)


def bootstrap() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - tasks.py may be started by any python3
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}.")
    if not (BIN / "uv").exists():
        if not (BIN / "python").exists():
            print("Creating .venv ...", flush=True)
            run(sys.executable, "-m", "venv", VENV)
        run(
            BIN / "python",
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"uv=={UV_VERSION}",
        )
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(VENV)}
    # Bytecode is compiled once, at install, as the Dockerfile does. Where PYTHONDONTWRITEBYTECODE
    # is set (it is on the build machine), Python otherwise compiles every module it imports, in
    # every process: `import dagster` took 4.2 s instead of 1.9 s, sklearn.ensemble 9 s instead
    # of 3.5 s, and each CLI, daemon and test subprocess paid it again.
    run(BIN / "uv", "sync", "--frozen", "--quiet", "--compile-bytecode", env=env)


def instance_env() -> dict[str, str]:
    """DAGSTER_HOME (default ./.dagster_home) holding the chosen dagster.yaml."""
    env = dict(os.environ)
    home = Path(env.setdefault("DAGSTER_HOME", str(ROOT / ".dagster_home"))).absolute()
    env["DAGSTER_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    # The production profile (PIPELINE_ENV=production) runs on the Postgres instance.
    default = "postgres" if env.get("PIPELINE_ENV") == "production" else "local"
    variant = env.get("PIPELINE_INSTANCE", default)
    if variant == "postgres":
        if not env.get("DAGSTER_PG_URL"):
            sys.exit(
                "PIPELINE_INSTANCE=postgres needs DAGSTER_PG_URL (postgresql://user:pass@host/db)."
            )
        source = ROOT / "instance" / "dagster.postgres.yaml"
    elif variant == "local":
        source = ROOT / "dagster.yaml"
    else:
        sys.exit(f"PIPELINE_INSTANCE must be 'local' or 'postgres', not {variant!r}.")
    shutil.copyfile(source, home / "dagster.yaml")
    return env


def demo() -> None:
    env = instance_env()
    data = Path(env.get("PIPELINE_DATA_DIR", "data")).absolute()
    env["PIPELINE_DATA_DIR"] = str(data)
    run(BIN / "dagster", "job", "execute", "-m", "pipeline_defs", "-j", "full_pipeline", env=env)
    print()
    print("full_pipeline finished.")
    print(f"  lake (Parquet):   {data / 'lake'}")
    print(f"  warehouse:        {data / 'warehouse.duckdb'}  (views such as ingestion.raw_orders)")
    print(f"  quarantine:       {data / 'quarantine'}")
    print(f"  reports:          {data / 'reports'}")
    print(f"  Dagster instance: {env['DAGSTER_HOME']}  (open the UI: python3 tasks.py dev)")


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in {"demo", "test", "lint", "dev"}:
        sys.exit(__doc__)
    bootstrap()
    command, rest = argv[0], argv[1:]
    if command == "demo":
        demo()
    elif command == "test":
        # Tests in parallel processes, as many as cores (up to 4); tests that share the one test
        # database keep to one process (tests/conftest.py). `-n 0` runs them in this process.
        parallel = [] if any(a == "-n" or a.startswith("-n") for a in rest) else PARALLEL
        run(BIN / "pytest", *parallel, *rest)
    elif command == "lint":
        run(BIN / "ruff", "check", ".")
        run(BIN / "ruff", "format", "--check", ".")
        run(BIN / "pyright")
    elif command == "dev":
        run(BIN / "dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", env=instance_env())


if __name__ == "__main__":
    main(sys.argv[1:])
