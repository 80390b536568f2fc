"""PostgreSQL 15 from Debian's packages, in a data folder of ours, on a non-default port."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from base.errors import InfraError
from infra import system_packages
from infra.processes import read_pid, stop_pid
from infra.service import Service

BIN = Path("/usr/lib/postgresql/15/bin")


class PostgresServer(Service):
    name = "postgres"

    @property
    def endpoint(self) -> str:
        return f"{self.settings.postgres_host}:{self.settings.postgres_port}"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def pid_file(self) -> Path:
        # PostgreSQL keeps its own: the first line of postmaster.pid is the postmaster's pid.
        return self.data / "postmaster.pid"

    def install(self) -> None:
        system_packages.ensure({str(BIN / "postgres"): "postgresql-15"})

    def start(self) -> None:
        s = self.settings
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        socket_dir = self.home / "socket"
        socket_dir.mkdir(exist_ok=True)
        if _as_root():
            # initdb and postgres refuse to run as root: the files belong to the postgres user.
            shutil.chown(self.home, "postgres", "postgres")
            shutil.chown(socket_dir, "postgres", "postgres")
            if not self.log_file.exists():
                self.log_file.touch()
            shutil.chown(self.log_file, "postgres", "postgres")
            self._check_reachable_by_postgres()
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        options = (
            f"-p {s.postgres_port} -c listen_addresses={s.postgres_host} -k {socket_dir} "
            "-c fsync=on -c max_connections=200"
        )
        self._run(
            [
                str(BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log_file),
                "-o",
                options,
                "-w",
                "-t",
                str(int(s.ready_timeout_s)),
                "start",
            ],
            what="starting PostgreSQL",
        )

    def stop(self) -> None:
        # pg_ctl's fast shutdown rolls back open transactions and checkpoints; fall back to signals.
        self._stop("fast")

    def crash(self) -> None:
        """Stop as a crash would (tests): no checkpoint, WAL not yet written is lost, recovery at start."""
        self._stop("immediate")

    def _stop(self, mode: str) -> None:
        pid = read_pid(self.pid_file)
        if pid is None:
            return
        result = subprocess.run(
            [
                *_user_prefix(),
                str(BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                mode,
                "-w",
                "-t",
                "30",
                "stop",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            stop_pid(pid)

    def probe(self) -> str | None:
        try:
            # The maintenance database: it exists before provision() creates ours.
            with psycopg.connect(self._dsn("postgres"), connect_timeout=3) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None

    def _dsn(self, db: str) -> str:
        s = self.settings
        return f"postgresql://{s.postgres_user}:{s.postgres_password.get_secret_value()}@{s.postgres_host}:{s.postgres_port}/{db}"

    def _initdb(self) -> None:
        pwfile = self.home / "initdb.pw"
        pwfile.write_text(self.settings.postgres_password.get_secret_value() + "\n")
        if _as_root():
            shutil.chown(pwfile, "postgres", "postgres")
        try:
            self._run(
                [
                    str(BIN / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    self.settings.postgres_user,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ],
                what="initdb",
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def provision(self) -> None:
        db = self.settings.postgres_db
        with psycopg.connect(self._dsn("postgres"), autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))

    def _check_reachable_by_postgres(self) -> None:
        probe = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-w", str(self.home)], check=False)
        if probe.returncode != 0:
            raise InfraError(
                f"the postgres user cannot write {self.home} (a parent folder is closed to it). "
                "Point BACKDROP_STATE_DIR at a folder every user can traverse, e.g. /var/tmp/backdrop."
            )

    def _run(self, argv: list[str], *, what: str) -> None:
        result = subprocess.run([*_user_prefix(), *argv], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise InfraError(
                f"{what} failed ({result.returncode}):\n{(result.stdout + result.stderr)[-3000:]}"
            )


def _as_root() -> bool:
    return os.geteuid() == 0


def _user_prefix() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if _as_root() else []
