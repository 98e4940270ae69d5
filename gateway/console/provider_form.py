"""A form per kind of department login system, read off the kind's own settings model
(``providers/registry.py``): each setting an input fitting its type, and the form back into
the settings document the admin API's ``POST /providers`` takes."""

from __future__ import annotations

import json
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic.fields import FieldInfo

from gateway.server.responses import Invalid
from providers.registry import config_class

SECRET_WORDS = ("password", "secret")
PREFIX = "cfg_"


@dataclass(frozen=True)
class Setting:
    name: str
    widget: Literal["text", "password", "number", "checkbox", "select", "list", "json"]
    required: bool
    default: str  # as shown in the input (secrets: never)
    choices: tuple[str, ...] = ()


def _plain(annotation: Any) -> tuple[Any, bool]:
    """The type without ``| None``, and whether None was allowed."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return annotation, False


def _widget(name: str, annotation: Any) -> tuple[str, tuple[str, ...]]:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return "select", tuple(str(a) for a in typing.get_args(annotation))
    if origin in (list, set, frozenset, tuple):
        return "list", ()
    if origin is dict or annotation is dict:
        return "json", ()
    if annotation is bool:
        return "checkbox", ()
    if annotation in (int, float):
        return "number", ()
    return ("password" if any(w in name for w in SECRET_WORDS) else "text"), ()


def _shown_default(info: FieldInfo, widget: str) -> str:
    if widget == "password" or info.is_required():
        return ""
    value = info.get_default(call_default_factory=True)
    if value is None:
        return ""
    if widget == "json":
        return json.dumps(value, ensure_ascii=False)
    if widget == "list":
        return ", ".join(sorted(value) if isinstance(value, (set, frozenset)) else value)
    if widget == "checkbox":
        return "on" if value else ""
    return str(value)


def settings_of(kind: str) -> list[Setting]:
    """The kind's settings in the model's order, the common ones (name, ...) first."""
    found = []
    for name, info in config_class(kind).model_fields.items():
        if name == "type":
            continue
        annotation, _ = _plain(info.annotation)
        widget, choices = _widget(name, annotation)
        found.append(
            Setting(name, widget, info.is_required(), _shown_default(info, widget), choices)
        )  # type: ignore[arg-type]
    return found


def config_from(kind: str, form: dict[str, str]) -> dict[str, Any]:
    """The settings given on the form; one left empty takes the kind's default."""
    config: dict[str, Any] = {}
    for setting in settings_of(kind):
        raw = form.get(PREFIX + setting.name, "")
        if setting.widget == "checkbox":
            config[setting.name] = raw == "on"
        elif not raw.strip():
            continue
        elif setting.widget == "list":
            config[setting.name] = [
                p.strip() for p in raw.replace("\n", ",").split(",") if p.strip()
            ]
        elif setting.widget == "json":
            try:
                config[setting.name] = json.loads(raw)
            except ValueError:
                raise Invalid.field(["body", "config", setting.name], "not valid JSON") from None
        else:
            config[setting.name] = raw.strip() if setting.widget != "password" else raw
    return config
