"""Load and validate the TOML configuration into frozen dataclasses; errors name file, section and key."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from triage.schema import SchemaError, build_section

DEFAULT_CONFIG_PATH = Path("/etc/triage/config.toml")
CONFIG_ENV = "TRIAGE_CONFIG"

Security = Literal["tls", "starttls", "none"]


class ConfigError(SchemaError):
    """The configuration cannot be used; the message says where and what to change."""


@dataclass(frozen=True)
class StoreConfig:
    path: Path = Path("/var/lib/triage/triage.sqlite")
    raw_retention_days: int = 365


@dataclass(frozen=True)
class SupportConfig:
    addresses: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaptureConfig:
    batch_size: int = 200
    max_message_bytes: int = 25 * 1024 * 1024
    poll_interval_seconds: float = 60.0
    idle_seconds: float = 25 * 60.0
    keepalive_seconds: float = 5 * 60.0
    timeout_seconds: float = 60.0
    backoff_initial_seconds: float = 1.0
    backoff_max_seconds: float = 300.0
    # Processes that parse and classify a backfill (`run --once`, `import`); 0: one per CPU.
    workers: int = 0


@dataclass(frozen=True)
class AccountConfig:
    name: str
    host: str
    username: str
    port: int = 993
    security: Security = "tls"
    password_env: str | None = None
    password_file: Path | None = None
    password_command: str | None = None
    oauth2_token_command: str | None = None
    inbox: str = "INBOX"
    sent: str | None = None
    tls_verify: bool = True
    tls_ca_file: Path | None = None


@dataclass(frozen=True)
class RulesConfig:
    paths: tuple[Path, ...] = ()
    include_default: bool = True


@dataclass(frozen=True)
class FlagsConfig:
    reply_sla_hours: float = 24.0
    repeat_window_days: float = 14.0
    # How far back a recompute after new mail reaches: a new message can change flags
    # (unresolved, canned) on mail this old. One repeat window: a follow-up changes nothing older,
    # and the daemon re-derives this much after every arrival.
    recompute_days: float = 14.0


@dataclass(frozen=True)
class DigestConfig:
    recipients: tuple[str, ...] = ()
    schedule: str = "daily 08:00"  # "daily HH:MM" or "weekly mon HH:MM"
    timezone: str = "UTC"
    formats: tuple[str, ...] = ("text", "html")
    # Digests are also written here (one file per period and format); empty: not written.
    directory: Path | None = None
    # Extra regexes whose matches are masked in digests (card, ID and phone numbers always are).
    redact: tuple[str, ...] = ()


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "localhost"
    port: int = 587
    security: Security = "starttls"
    username: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    password_command: str | None = None
    sender: str = "triage@localhost"
    tls_verify: bool = True
    tls_ca_file: Path | None = None
    timeout_seconds: float = 60.0


@dataclass(frozen=True)
class HealthConfig:
    # `triage status` exits 1 when a watched folder has not synced for this long.
    stale_hours: float = 6.0


@dataclass(frozen=True)
class MetricsConfig:
    # host:port for a Prometheus /metrics endpoint; empty: no endpoint.
    listen: str = ""


@dataclass(frozen=True)
class LogConfig:
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


@dataclass(frozen=True)
class Config:
    source: Path | None = None
    store: StoreConfig = field(default_factory=StoreConfig)
    support: SupportConfig = field(default_factory=SupportConfig)
    capture: CaptureConfig = field(default_factory=CaptureConfig)
    accounts: tuple[AccountConfig, ...] = ()
    rules: RulesConfig = field(default_factory=RulesConfig)
    flags: FlagsConfig = field(default_factory=FlagsConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    log: LogConfig = field(default_factory=LogConfig)

    def is_ours(self, address: str) -> bool:
        """True when mail from this address is outgoing (sent by support)."""
        address = address.strip().lower()
        if address in {a.lower() for a in self.support.addresses}:
            return True
        domain = address.rpartition("@")[2]
        return domain in {d.lower() for d in self.support.domains}


SECTIONS: dict[str, type] = {
    "store": StoreConfig,
    "support": SupportConfig,
    "capture": CaptureConfig,
    "rules": RulesConfig,
    "flags": FlagsConfig,
    "digest": DigestConfig,
    "smtp": SmtpConfig,
    "health": HealthConfig,
    "metrics": MetricsConfig,
    "log": LogConfig,
}


def default_config_path() -> Path:
    """`$TRIAGE_CONFIG` when set, else /etc/triage/config.toml."""
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)


def load_config(path: Path | None = None) -> Config:
    """Read and validate a config file; raises ConfigError naming file, section and key."""
    path = path or default_config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found; pass --config PATH or set ${CONFIG_ENV} "
            "(config.example.toml documents every key)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from None
    return parse_config(text, path)


def parse_config(text: str, path: Path | None = None) -> Config:
    """Validate TOML text into a Config."""
    where = str(path or "<config>")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    known = {*SECTIONS, "accounts"}
    for key in data:
        if key not in known:
            raise ConfigError(f"{where}: unknown section [{key}]; known: {', '.join(sorted(known))}")
    if isinstance(data.get("smtp"), dict) and "from" in data["smtp"]:
        data["smtp"]["sender"] = data["smtp"].pop("from")  # `from` is a Python keyword
    sections: dict[str, Any] = {
        name: build_section(cls, data.get(name, {}), where, name, ConfigError) for name, cls in SECTIONS.items()
    }
    _check_smtp(sections["smtp"], where)
    _check_listen(sections["metrics"], where)
    _check_digest(sections["digest"], where)
    accounts = tuple(
        build_account(table, where, index)
        for index, table in enumerate(_list_of_tables(data.get("accounts", []), where))
    )
    _check_unique_names(accounts, where)
    _check_positive(sections["capture"], where, "capture", may_be_zero=("workers",))
    store: StoreConfig = sections["store"]
    if path is not None and not store.path.is_absolute():
        # A relative store path means next to the config file, not wherever the daemon started.
        sections["store"] = replace(store, path=path.parent / store.path)
    rules: RulesConfig = sections["rules"]
    if path is not None:
        sections["rules"] = replace(rules, paths=tuple(path.parent / p for p in rules.paths))
        directory = sections["digest"].directory
        if directory is not None and not directory.is_absolute():
            sections["digest"] = replace(sections["digest"], directory=path.parent / directory)
    return Config(source=path, accounts=accounts, **sections)


def _check_smtp(smtp: SmtpConfig, where: str) -> None:
    secrets = [k for k in ("password_env", "password_file", "password_command") if getattr(smtp, k) is not None]
    if len(secrets) > 1:
        raise ConfigError(f"{where}: [smtp] give at most one of password_env, password_file, password_command")
    if smtp.security == "none" and not is_loopback(smtp.host):
        raise ConfigError(
            f'{where}: [smtp] security = "none" is only allowed to a loopback host, not {smtp.host!r}; '
            'use "tls" or "starttls"'
        )


def _check_digest(digest: DigestConfig, where: str) -> None:
    from triage.schedule import ScheduleError, parse_schedule

    try:
        parse_schedule(digest.schedule, digest.timezone)
    except ScheduleError as exc:
        raise ConfigError(f"{where}: [digest] {exc}") from None
    unknown = set(digest.formats) - {"text", "markdown", "html", "json"}
    if unknown:
        raise ConfigError(f"{where}: [digest] formats: unknown {sorted(unknown)}; use text, markdown, html, json")


def _check_listen(metrics: MetricsConfig, where: str) -> None:
    host, _, port = metrics.listen.rpartition(":")
    if metrics.listen and (not host or not port.isdigit() or not 0 < int(port) < 65536):
        raise ConfigError(
            f'{where}: [metrics] listen must be "host:port", e.g. "127.0.0.1:9464", not {metrics.listen!r}'
        )


def _check_positive(section: object, where: str, name: str, may_be_zero: tuple[str, ...] = ()) -> None:
    for f in fields(section):  # type: ignore[arg-type]
        value = getattr(section, f.name)
        if f.name in may_be_zero and isinstance(value, int) and value < 0:
            raise ConfigError(f"{where}: [{name}] {f.name} must be 0 (automatic) or more, not {value}")
        if f.name not in may_be_zero and isinstance(value, int | float) and value <= 0:
            raise ConfigError(f"{where}: [{name}] {f.name} must be greater than 0, not {value}")


def _list_of_tables(value: object, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise ConfigError(f"{where}: [[accounts]] must be a list of tables ([[accounts]] blocks)")
    return value


def build_account(table: dict[str, Any], where: str, index: int) -> AccountConfig:
    section = f"accounts[{index}]"
    account: AccountConfig = build_section(AccountConfig, table, where, section, ConfigError)
    section = f"accounts[{index}] ({account.name})"
    secrets = [
        k
        for k in ("password_env", "password_file", "password_command", "oauth2_token_command")
        if getattr(account, k) is not None
    ]
    if len(secrets) != 1:
        raise ConfigError(
            f"{where}: [{section}] needs exactly one of password_env, password_file, "
            f"password_command or oauth2_token_command (found: {', '.join(secrets) or 'none'})"
        )
    if account.security == "none" and not is_loopback(account.host):
        raise ConfigError(
            f'{where}: [{section}] security = "none" sends the password in clear text; it is '
            f'only allowed to a loopback host, not {account.host!r}. Use "tls" or "starttls".'
        )
    if not 0 < account.port < 65536:
        raise ConfigError(f"{where}: [{section}] port {account.port} is not a valid TCP port")
    return account


def _check_unique_names(accounts: tuple[AccountConfig, ...], where: str) -> None:
    seen: set[str] = set()
    for account in accounts:
        if account.name in seen:
            raise ConfigError(f"{where}: two [[accounts]] are named {account.name!r}; names must be unique")
        seen.add(account.name)


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses, the only hosts where plain IMAP/SMTP is allowed."""
    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
