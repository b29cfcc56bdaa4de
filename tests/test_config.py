"""Config loading: the example loads, and every mistake is named by file, section and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from triage.config import ConfigError, is_loopback, load_config, parse_config

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = """
[[accounts]]
name = "a"
host = "127.0.0.1"
username = "u"
password_env = "P"
security = "none"
port = 143
"""


def test_example_config_loads_with_every_section() -> None:
    config = load_config(ROOT / "config.example.toml")
    assert config.accounts[0].name == "support"
    assert config.support.addresses == ("support@example.com",)
    assert config.capture.max_message_bytes == 25 * 1024 * 1024
    assert config.accounts[0].tls_verify is True


def test_defaults_match_the_issue_contract() -> None:
    config = parse_config(ACCOUNT)
    account = config.accounts[0]
    assert account.inbox == "INBOX"
    assert account.sent is None
    assert config.capture.max_message_bytes == 25 * 1024 * 1024


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[store]\npathh = 'x'\n", "[store] unknown key 'pathh'"),
        ("[stor]\n", "unknown section [stor]"),
        ("[capture]\nbatch_size = 'many'\n", "[capture] batch_size must be an integer"),
        ("[capture]\nbatch_size = 0\n", "[capture] batch_size must be greater than 0"),
        ("[support]\naddresses = 'x@y'\n", "[support] addresses must be a list"),
        ("[log]\nlevel = 'LOUD'\n", "[log] level must be one of"),
        ("[[accounts]]\nname = 'a'\n", "[accounts[0]] missing required key 'host'"),
        (ACCOUNT.replace('security = "none"', 'security = "ssl"'), "security must be one of"),
        (ACCOUNT.replace('host = "127.0.0.1"', 'host = "imap.example.com"'), "only allowed to a loopback"),
        (ACCOUNT.replace('password_env = "P"', ""), "needs exactly one of password_env"),
        (ACCOUNT.replace('password_env = "P"', 'password_env = "P"\npassword_file = "f"'), "exactly one"),
        (ACCOUNT + ACCOUNT, "two [[accounts]] are named 'a'"),
        (ACCOUNT.replace("port = 143", "port = 70000"), "not a valid TCP port"),
        (ACCOUNT.replace("port = 143", "port = true"), "port must be an integer"),
        ("not toml = = =", "not valid TOML"),
    ],
)
def test_mistakes_are_named(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, Path("/etc/triage/config.toml"))
    assert expected in str(caught.value)
    assert str(caught.value).startswith("/etc/triage/config.toml")


def test_missing_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--config PATH"):
        load_config(tmp_path / "nope.toml")


def test_relative_store_path_is_next_to_the_config(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[store]\npath = 'data/triage.sqlite'\n")
    assert load_config(path).store.path == tmp_path / "data" / "triage.sqlite"


def test_environment_variable_names_the_default_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[support]\naddresses = ['help@example.org']\n")
    monkeypatch.setenv("TRIAGE_CONFIG", str(path))
    assert load_config().support.addresses == ("help@example.org",)


def test_ours_matches_addresses_and_domains_case_insensitively() -> None:
    config = parse_config("[support]\naddresses = ['Help@Example.org']\ndomains = ['example.com']\n")
    assert config.is_ours("help@example.org")
    assert config.is_ours("rina@EXAMPLE.com")
    assert not config.is_ours("customer@example.net")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("10.0.0.1", False),
        ("imap.example.com", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
