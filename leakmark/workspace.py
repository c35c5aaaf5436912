"""The workspace: one folder with the secret key, the ledger, the vault of originals and the config.

Layout::

    HOME/key            32 random bytes, mode 0600, created once and never overwritten
    HOME/ledger.sqlite  the distribution register (see leakmark.ledger)
    HOME/ledger.head    last event's sequence number and hash, to detect a truncated ledger
    HOME/vault/<sha256>/original.<ext>, page-NNN.png, units-NNN.json, fp-NNN.npz
    HOME/config.json    defaults (dpi, delta, threshold; optional `operator`, who records register events)
    HOME/runs/<run>/    a run's page cache while it runs (unmarked page renderings), removed when it ends

Everything in it is private to its owner: files 0600, folders 0700, also under a permissive umask. A
workspace made by an older leakmark is tightened when it is opened (only what this user owns; nothing fails
if a file cannot be changed).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from leakmark._io import PRIVATE_DIR, PRIVATE_FILE, atomic_write_bytes, private_dir, tighten
from leakmark.errors import OutputError, WorkspaceMissingError

KEY_BYTES = 32
DEFAULT_CONFIG = {"dpi": 300, "delta_px": 1, "threshold": 1e-6}


def default_home() -> Path:
    """`$LEAKMARK_HOME`, else the platform's user data folder."""
    env = os.environ.get("LEAKMARK_HOME")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "leakmark"


@dataclass(frozen=True)
class Workspace:
    home: Path

    @property
    def key_path(self) -> Path:
        return self.home / "key"

    @property
    def ledger_path(self) -> Path:
        return self.home / "ledger.sqlite"

    @property
    def register_url(self) -> str | None:
        """A PostgreSQL register's address (`LEAKMARK_REGISTER`, else the config's "register"); None: the
        workspace's own SQLite file."""
        url = os.environ.get("LEAKMARK_REGISTER") or self.config().get("register")
        return str(url) if url else None

    @property
    def head_path(self) -> Path:
        from leakmark.ledger.postgres import is_url, register_id

        url = self.register_url
        return self.home / (f"register-{register_id(url)}.head" if url and is_url(url) else "ledger.head")

    @property
    def vault(self) -> Path:
        return self.home / "vault"

    @property
    def config_path(self) -> Path:
        return self.home / "config.json"

    # -- opening -------------------------------------------------------------------------------
    @classmethod
    def open(cls, home: Path | str | None = None, *, create: bool = True) -> Workspace:
        """Open the workspace at `home`; create it when `create` and nothing is there yet.

        Refuses to make a new key beside an existing ledger: that would silently orphan every
        issued copy, since marks are derived from the key.
        """
        ws = cls(Path(home).expanduser() if home is not None else default_home())
        if ws.key_path.exists():
            ws._check_key()
            ws._tighten()
            return ws
        if ws.ledger_path.exists():
            raise WorkspaceMissingError(
                f"the workspace {ws.home} has a ledger but no key file ({ws.key_path}); restore the key "
                "from your backup: without it no issued copy can be traced or verified"
            )
        if not create:
            raise WorkspaceMissingError(
                f"no leakmark workspace at {ws.home}; run `leakmark init --home {ws.home}` or point "
                "--home / LEAKMARK_HOME at your workspace"
            )
        ws._create()
        return ws

    def _create(self) -> None:
        try:
            private_dir(self.home)
            private_dir(self.vault)
            # O_EXCL: two processes creating the workspace at once never overwrite each other's key
            fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        except OutputError as exc:
            raise WorkspaceMissingError(f"cannot create the workspace at {self.home}: {exc.message}") from exc
        except OSError as exc:
            raise WorkspaceMissingError(f"cannot create the workspace at {self.home}: {exc.strerror}") from exc
        with os.fdopen(fd, "wb") as fh:
            fh.write(os.urandom(KEY_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
        if not self.config_path.exists():
            atomic_write_bytes(self.config_path, json.dumps(DEFAULT_CONFIG, indent=2).encode())

    def _tighten(self) -> None:
        """Make an existing workspace private (files 0600, folders 0700), best effort. The vault is walked
        only while its folder is still open to others (a workspace from before this release, once)."""
        for folder in (self.home, self.home / "runs", self.home / "index"):
            tighten(folder, PRIVATE_DIR)
        if (self.home / "index").is_dir():  # the page index: manifest, segments, lock, temp files of its writes,
            for entry in (self.home / "index").rglob("*"):  # and the outlines' index in its folder
                tighten(entry, PRIVATE_DIR if entry.is_dir() else PRIVATE_FILE)
        for name in ("key", "ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm", "ledger.head", "ledger.lock",
                     "config.json"):
            tighten(self.home / name, PRIVATE_FILE)
        if tighten(self.vault, PRIVATE_DIR):
            for root, dirs, files in os.walk(self.vault):
                for d in dirs:
                    tighten(Path(root) / d, PRIVATE_DIR)
                for f in files:
                    tighten(Path(root) / f, PRIVATE_FILE)

    def _check_key(self) -> None:
        size = self.key_path.stat().st_size
        if size != KEY_BYTES:
            raise WorkspaceMissingError(
                f"the key file {self.key_path} is {size} bytes, expected {KEY_BYTES}; restore it from backup"
            )

    # -- key -------------------------------------------------------------------------------------
    def key(self) -> bytes:
        try:
            return self.key_path.read_bytes()
        except OSError as exc:
            raise WorkspaceMissingError(f"cannot read the key file {self.key_path}: {exc.strerror}") from exc

    def key_fingerprint(self) -> str:
        """A public name for the key (never the key itself), for reports and chain of custody."""
        return hashlib.sha256(b"leakmark key fingerprint\0" + self.key()).hexdigest()[:16]

    def config(self) -> dict:
        cfg = dict(DEFAULT_CONFIG)
        if self.config_path.exists():
            try:
                cfg.update(json.loads(self.config_path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                pass  # a broken config falls back to defaults; the key and ledger are what matter
        return cfg

    def operator(self, given: str | None = None) -> str:
        """Who records a register event: `given` (`--operator`), else the config's `operator`, else the OS user."""
        if given and given.strip():
            return given.strip()
        configured = self.config().get("operator")
        if isinstance(configured, str) and configured.strip():
            return configured.strip()
        try:
            return getpass.getuser()
        except Exception:  # no user database entry (containers)
            return "unknown"

    # -- vault -----------------------------------------------------------------------------------
    def doc_dir(self, sha256: str) -> Path:
        return self.vault / sha256
