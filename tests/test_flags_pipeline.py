"""The whole derivation through the CLI on the bundled sample mailbox: flags, order independence, feedback."""

from __future__ import annotations

import gc
import json
import random
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests.test_collector import noting_the_collector
from triage import flagging
from triage.analyze import Analyzer
from triage.capture import import_raw
from triage.collector import collector_paused
from triage.config import Config, load_config
from triage.demo.sample_mailbox import SampleMessage, sample_messages
from triage.flagging import FlagEngine
from triage.model import FolderRole, RawMail
from triage.store import open_store
from triage.views import load_views

TRIAGE = Path(sys.executable).parent / "triage"


def triage(config: Path, *args: str) -> str:
    done = subprocess.run(
        [str(TRIAGE), *args, "--config", str(config)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def write_config(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.toml"
    config.write_text(
        f'[store]\npath = "{folder}/triage.sqlite"\n'
        '[support]\naddresses = ["support@example.com"]\ndomains = ["example.com"]\n'
    )
    return config


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer.from_config(Config())


def import_in_chunks(config: Path, messages: list[SampleMessage], chunks: int, analyzer: Analyzer) -> None:
    """What `triage import` does, in-process (loading the language pipelines once for all tests)."""
    settings = load_config(config)
    analyzer = Analyzer(analyzer.classifier, settings)
    store = open_store(settings.store.path)
    size = -(-len(messages) // chunks)
    for index in range(0, len(messages), size):
        part = messages[index : index + size]
        for folder in ("inbox", "sent"):
            raws = [RawMail(m.raw) for m in part if m.folder == folder]
            result = import_raw(raws, store, settings, FolderRole(folder), after_batch=analyzer.analyze)
            analyzer.flag_after(store, list(result.new_ids))
    store.close()


def flags_by_message(config: Path) -> dict[str, set[str]]:
    records = [json.loads(line) for line in triage(config, "messages", "--format", "jsonl").splitlines()]
    return {r["message_id"]: {f["kind"] for f in r["flags"]} for r in records}


@pytest.fixture(scope="module")
def in_date_order(tmp_path_factory: pytest.TempPathFactory, analyzer: Analyzer) -> tuple[Path, dict[str, set[str]]]:
    config = write_config(tmp_path_factory.mktemp("ordered"))
    import_in_chunks(config, sample_messages(), 1, analyzer)
    return config, flags_by_message(config)


def test_flags_do_not_depend_on_the_order_mail_arrives_in(
    in_date_order: tuple[Path, dict[str, set[str]]], tmp_path: Path, analyzer: Analyzer
) -> None:
    _, expected = in_date_order
    shuffled = sample_messages()
    random.Random(5).shuffle(shuffled)
    config = write_config(tmp_path / "shuffled")
    import_in_chunks(config, shuffled, 4, analyzer)  # replies often arrive before their questions
    assert flags_by_message(config) == expected


def test_a_recompute_in_small_windows_gives_the_flags_of_one_window(
    in_date_order: tuple[Path, dict[str, set[str]]], tmp_path: Path, analyzer: Analyzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, expected = in_date_order
    monkeypatch.setattr(flagging, "WINDOW_MESSAGES", 7)  # the sample mailbox spans 15 windows
    config = write_config(tmp_path / "windows")
    import_in_chunks(config, sample_messages(), 1, analyzer)
    assert flags_by_message(config) == expected


@pytest.mark.parametrize(
    ("message_id", "kind"),
    [
        ("<t02.a1@example.com>", "auto-ack"),
        ("<t04.r1@example.com>", "canned"),
        ("<t06.r1@example.com>", "canned"),
        ("<t24.r1@example.com>", "deflection"),
        ("<t08.r1@example.com>", "deflection"),
        ("<t10.r1@example.com>", "partial-answer"),
        ("<t11.r1@example.com>", "ignored-details"),
        ("<t13.q1@mail.example.net>", "unanswered"),
        ("<t03.q2@mail.example.net>", "repeat-contact"),
        ("<t03.r1@example.com>", "unresolved"),
        ("<t25.q2@mail.example.net>", "repeat-contact"),
    ],
)
def test_poor_replies_and_failed_customers_are_flagged(
    in_date_order: tuple[Path, dict[str, set[str]]], message_id: str, kind: str
) -> None:
    assert kind in in_date_order[1][message_id]


@pytest.mark.parametrize(
    "message_id",
    [
        "<t12.r1@example.com>",
        "<t29.r1@example.com>",
        "<t34.r1@example.com>",
        "<t19.r1@example.com>",
        "<t01.q2@mail.example.net>",
        "<t22.q2@mail.example.net>",
        "<hw46.20261110@news.example.org>",
    ],
)
def test_good_replies_thanks_and_newsletters_get_no_flag(
    in_date_order: tuple[Path, dict[str, set[str]]], message_id: str
) -> None:
    assert in_date_order[1][message_id] == set()


def test_a_dismissed_flag_stays_dismissed_after_replay(in_date_order: tuple[Path, dict[str, set[str]]]) -> None:
    config, _ = in_date_order
    listed = [
        json.loads(line)
        for line in triage(config, "flags", "list", "--kind", "deflection", "--format", "jsonl").splitlines()
    ]
    flag_id = str(listed[0]["id"])
    assert "dismissed" in triage(config, "flags", "dismiss", flag_id, "--note", "office visit required by law")
    assert "office visit required by law" in triage(config, "flags", "show", flag_id)
    triage(config, "rules", "replay", "--since", "all", "--apply")
    shown = triage(config, "flags", "show", flag_id)
    assert "dismissed" in shown.splitlines()[0]
    assert "deflection" in triage(config, "status")


def test_readings_kept_between_derivations_change_no_flag(
    in_date_order: tuple[Path, dict[str, set[str]]], analyzer: Analyzer
) -> None:
    config, _ = in_date_order
    store = open_store(load_config(config).store.path)
    views = load_views(store)
    store.close()
    now = max(v.date for v in views) + timedelta(days=2)
    kept = FlagEngine(analyzer.classifier.ruleset, analyzer.classifier.models, Config())
    first = kept.derive(views, now)
    later = views[len(views) // 3 :]  # a later window: most of it read already
    assert kept.derive(views, now) == first
    assert kept.derive(later, now) == FlagEngine(kept.ruleset, kept.models, Config()).derive(later, now)


def test_the_collector_is_paused_while_a_derivation_runs_and_as_it_was_after(
    in_date_order: tuple[Path, dict[str, set[str]]], analyzer: Analyzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, _ = in_date_order
    store = open_store(load_config(config).store.path)
    engine = FlagEngine(analyzer.classifier.ruleset, analyzer.classifier.models, Config())
    seen: list[bool] = []  # whether the collector was on, at each load and each derivation
    for name in ("load_views", "link_replies"):
        monkeypatch.setattr(flagging, name, noting_the_collector(getattr(flagging, name), seen))
    views = load_views(store)
    now = max(v.date for v in views) + timedelta(days=2)
    assert gc.isenabled()
    engine.derive(views, now)
    engine.window_flags(store, now, engine.windows(store)[0])
    assert any(engine.readings().sizes().values())  # a window derived alone keeps its readings for the next
    engine.window_flags(store, now, engine.windows(store)[0], alone=False)
    assert not any(engine.readings().sizes().values())  # a backfill's window leaves none for the collector to walk
    engine.recompute_after(store, [views[-1].id], now)
    store.close()
    assert seen and not any(seen)  # loading and deriving, in a backfill's window and in the daemon's
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError), collector_paused():
        assert not gc.isenabled()
        _ = 1 // 0
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # a caller that turned it off keeps it off
    finally:
        gc.enable()
