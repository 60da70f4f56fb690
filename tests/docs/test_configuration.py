"""docs/configuration.md lists every setting with its default, so the table stays true."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CONFIGURATION = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")


def documented_defaults() -> dict[str, str]:
    rows = re.findall(r"^\| `([A-Z_]+)` \| ([^|]+) \|", CONFIGURATION, flags=re.MULTILINE)
    return {name: cell.strip().strip("`") for name, cell in rows}


def settings_defaults() -> dict[str, Any]:
    """Every environment variable `Settings` reads, with its default value."""
    defaults: dict[str, Any] = {}
    settings = Settings(_env_file=None)
    for group in Settings.model_fields:
        value = getattr(settings, group)
        if isinstance(value, BaseModel):
            for name in type(value).model_fields:
                defaults[f"{group}_{name}".upper()] = getattr(value, name)
        else:
            defaults[group.upper()] = value
    return defaults


def rendered(value: Any) -> str:
    if value is None:
        return "unset"
    if value == []:
        return "empty"
    if isinstance(value, float) and value.is_integer() and value >= 30:
        return f"{value:g}"
    return str(value)


def test_every_setting_is_documented_with_its_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    documented = documented_defaults()
    actual = {name: rendered(value) for name, value in settings_defaults().items()}
    assert actual == documented
