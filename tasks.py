#!/usr/bin/env python3
"""Project commands that work on a fresh machine with only Python 3.11+ and git.

    python3 tasks.py demo [--verbose] [-c FILE]
                                 install everything, run full_pipeline on generated sample data
                                 and summarise it (-c: run config, e.g. a bigger sample)
    python3 tasks.py test [ARGS] install everything, run the full test suite in parallel (ARGS go to
                                 pytest; -m "not e2e" is the fast tier)
    python3 tasks.py lint        ruff check, ruff format --check, pyright
    python3 tasks.py install     only the install below (for CI)
    python3 tasks.py dev [ARGS]  the Dagster UI and daemon (dagster dev) on 127.0.0.1:3000, with
                                 automation running (ARGS go to dagster dev, e.g. -p 3001)
    python3 tasks.py stream [ARGS]
                                 redis-server on 127.0.0.1:6379 (data/redis) and the synthetic
                                 producer sending usage events to the stream app-events (ARGS go
                                 to the producer, e.g. --rate 5000 --events 100000); the server
                                 keeps running for `tasks.py dev` until Ctrl-C

The first call creates .venv, installs uv into it from PyPI and syncs the locked dependencies,
compiling their bytecode.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
UV_VERSION = "0.13.9"
PARALLEL = ["-n", "auto", "--maxprocesses", "4", "--dist", "loadgroup"]


def run(*cmd: str | Path, env: dict[str, str] | None = None) -> None:
    """Run a command in the foreground; exit with its code if it fails.

    Ctrl-C reaches the command too (one process group): it shuts itself down, and this waits
    for it and exits with 130 instead of printing a traceback of its own.
    """
    proc = subprocess.Popen([str(c) for c in cmd], cwd=ROOT, env=env)
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        try:
            proc.wait()
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
            proc.kill()
        sys.exit(130)
    if code != 0:
        sys.exit(code)


def run_step(
    label: str,
    cmd: list[str | Path],
    env: dict[str, str] | None = None,
    show: Callable[[str], bool] = lambda line: False,
) -> None:
    """Run a long command with its output held back (shown whole if it fails) except the lines
    ``show`` picks, and a line every 20 s of silence so it is visibly alive."""
    print(f"{label} ...", flush=True)
    start = time.monotonic()
    proc = subprocess.Popen(
        [str(c) for c in cmd],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    last = [start]

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            if show(line):
                print(f"  {line.rstrip()}", flush=True)
                last[0] = time.monotonic()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    while proc.poll() is None:
        time.sleep(1)
        if time.monotonic() - last[0] >= 20:
            print(f"  still working ({time.monotonic() - start:.0f} s)", flush=True)
            last[0] = time.monotonic()
    reader.join()
    if proc.returncode != 0:
        sys.stderr.write("".join(output))
        sys.exit(f"{label} failed (exit {proc.returncode}).")
    print(f"  done in {time.monotonic() - start:.0f} s", flush=True)


def bootstrap() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - tasks.py may be started by any python3
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}.")
    fresh = not (BIN / "uv").exists()
    if fresh:
        print("First run: installing the project into .venv (1-2 minutes on 2 cores).")
        if not (BIN / "python").exists():
            run_step("Creating .venv", [sys.executable, "-m", "venv", VENV])
        run_step(
            f"Installing uv {UV_VERSION}",
            [
                BIN / "python",
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                f"uv=={UV_VERSION}",
            ],
        )
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(VENV)}
    # Bytecode is compiled once, at install, as the Dockerfile does. Where PYTHONDONTWRITEBYTECODE
    # is set (it is on the build machine), Python otherwise compiles every module it imports, in
    # every process: `import dagster` took 4.2 s instead of 1.9 s, sklearn.ensemble 9 s instead
    # of 3.5 s, and each CLI, daemon and test subprocess paid it again.
    sync = [BIN / "uv", "sync", "--frozen", "--compile-bytecode"]
    if fresh:
        run_step(
            "Installing the locked dependencies and compiling their bytecode",
            sync,
            env,
            # uv's summary lines ("Installed 190 packages in 2.1s", "Bytecode compiled ..."),
            # not its line per package.
            show=lambda line: line[:1].isupper() and " in " in line,
        )
    else:
        run(*sync, "--quiet", env=env)


def project_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` letting Python cache the project's own bytecode (gitignored ``__pycache__``).

    The dependencies' bytecode is compiled at install, but with PYTHONDONTWRITEBYTECODE set
    every process compiled the project's modules again (0.55 s for all of them), and pytest
    rewrote every test module's asserts in each worker: collecting the fast tier took 9.1 s
    per process, 5.5 s with the cache.
    """
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def instance_env() -> dict[str, str]:
    """DAGSTER_HOME (default ./.dagster_home) holding the chosen dagster.yaml."""
    env = project_env(dict(os.environ))
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


def demo_args(args: list[str]) -> list[str]:
    """The demo's arguments with a run config file (``-c FILE``) made absolute: it is named
    relative to where the command was typed, and the demo runs in the project folder."""
    return [
        str(Path(a).absolute()) if i and args[i - 1] in ("-c", "--config") else a
        for i, a in enumerate(args)
    ]


def demo(args: list[str]) -> None:
    args = demo_args(args)
    env = instance_env()
    env["PIPELINE_DATA_DIR"] = str(Path(env.get("PIPELINE_DATA_DIR", "data")).absolute())
    run(BIN / "python", "-m", "demo.run", *args, env=env)


def dev(args: list[str]) -> None:
    env = instance_env()
    # Assets after ingestion follow their inputs (README, "Orchestration"): here the automation
    # sensor starts running unless PIPELINE_AUTOMATION=off.
    env.setdefault("PIPELINE_AUTOMATION", "on")
    # A long-running server stays up when a user's spec breaks (README, "Errors").
    env.setdefault("PIPELINE_SPEC_ERRORS", "skip")
    run(BIN / "dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", *args, env=env)


def stream(args: list[str]) -> None:
    """A local redis-server and the producer; the server stays up until Ctrl-C."""
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (Debian/Ubuntu: apt-get install redis-server).")
    folder = Path(os.environ.get("PIPELINE_DATA_DIR", "data")).absolute() / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", "6379", "--dir", str(folder), "--save", ""],
        stdout=(folder / "redis.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        time.sleep(0.5)
        if server.poll() is not None:
            sys.exit(f"redis-server stopped at once; see {folder / 'redis.log'} (port 6379 taken?)")
        print("redis-server on redis://127.0.0.1:6379/0; in another terminal:")
        print(
            "  PIPELINE_REDIS_URL=redis://127.0.0.1:6379/0 PIPELINE_DATASETS_DIR=examples/streams "
            "python3 tasks.py dev",
            flush=True,
        )
        run(BIN / "python", "-m", "assets.ingestion.streams.producer", *args)
        print("Producer done; redis-server keeps running (Ctrl-C stops it).", flush=True)
        server.wait()
    finally:
        server.terminate()
        server.wait(timeout=10)


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in {"demo", "test", "lint", "dev", "install", "stream"}:
        sys.exit(__doc__)
    bootstrap()
    command, rest = argv[0], argv[1:]
    if command == "demo":
        demo(rest)
    elif command == "test":
        # Tests in parallel processes, as many as cores (up to 4); tests that share the one test
        # database keep to one process (tests/conftest.py). `-n 0` runs them in this process.
        parallel = [] if any(a == "-n" or a.startswith("-n") for a in rest) else PARALLEL
        run(BIN / "pytest", *parallel, *rest, env=project_env(dict(os.environ)))
    elif command == "lint":
        run(BIN / "ruff", "check", ".")
        run(BIN / "ruff", "format", "--check", ".")
        run(BIN / "pyright")
    elif command == "dev":
        dev(rest)
    elif command == "stream":
        stream(rest)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:  # Ctrl-C while installing: no traceback
        sys.exit(130)
