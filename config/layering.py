"""Where settings come from: JSON layers, deep-merged, later wins (docs/configuration.md).

The settings model's own defaults are the bottom layer; environment variables, read by
pydantic-settings, are the top one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource

from config.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent
ENV_ALIASES = {"development": "dev", "production": "prod", "staging": "stage"}


def selected_env(environ: Mapping[str, str] | None = None) -> str:
    """``FXA_EMAIL_ENV``, else ``NODE_ENV``, else ``dev``; long names read as short ones."""
    environ = os.environ if environ is None else environ
    raw = environ.get("FXA_EMAIL_ENV") or environ.get("NODE_ENV") or "dev"
    return ENV_ALIASES.get(raw.lower(), raw.lower())


def layer_paths(env: str) -> list[Path]:
    """default.json (when a packager adds one), <env>.json, then ./config/local.json."""
    local = Path.cwd() / "config" / "local.json"
    return [CONFIG_DIR / "default.json", CONFIG_DIR / f"{env}.json", local]


class LayeredJsonSource(PydanticBaseSettingsSource):
    """The JSON layers of ``layer_paths``, deep-merged, later wins."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ returns the merged whole

    def __call__(self) -> dict[str, Any]:
        env = selected_env()
        merged: dict[str, Any] = {}
        for path in layer_paths(env):
            if path.is_file():
                try:
                    layer = json.loads(path.read_text("utf-8"))
                except ValueError as exc:
                    raise ConfigError(f"{path}: not valid JSON ({exc})") from None
                deep_merge(merged, layer)
        merged["env"] = env
        return merged


def deep_merge(into: dict[str, Any], layer: dict[str, Any]) -> None:
    """Merge ``layer`` into ``into``: objects key by key, anything else replaced."""
    for key, value in layer.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            deep_merge(into[key], value)
        else:
            into[key] = value
