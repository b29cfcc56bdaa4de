"""The garbage collector stays out of work that keeps what it makes: here, loading the rules and pipelines."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import pytest

from triage import analyze
from triage.analyze import Analyzer
from triage.config import Config
from triage.rules import RulesError


def noting_the_collector(step: Callable[..., Any], seen: list[bool]) -> Callable[..., Any]:
    def noted(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return step(*args, **kwargs)

    return noted


def test_the_collector_is_paused_while_the_rules_and_pipelines_load(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []  # whether the collector was on as the rules load, as the classifier and flag engine build
    for name in ("load_rules", "Classifier", "FlagEngine"):
        monkeypatch.setattr(analyze, name, noting_the_collector(getattr(analyze, name), seen))
    assert gc.isenabled()
    Analyzer.from_config(Config())
    assert seen == [False, False, False]
    assert gc.isenabled()


def test_the_collector_is_back_on_after_a_broken_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any) -> Any:
        raise RulesError("rules/broken.toml: line 3: expected '='")

    monkeypatch.setattr(analyze, "load_rules", broken)
    with pytest.raises(RulesError, match="broken"):
        Analyzer.from_config(Config())
    assert gc.isenabled()
