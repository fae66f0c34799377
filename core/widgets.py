"""Form widgets for choosing among more things than a page should list."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import SafeString

SUGGESTIONS = 20  # how many suggestions a field offers at a time


@dataclass(frozen=True)
class Suggestion:
    value: str  # what picking it puts into the field
    label: str = ""  # shown next to the value


def render_suggestions(suggestions: Sequence[Suggestion]) -> str:
    return render_to_string("core/_suggestions.html", {"suggestions": suggestions})


class SuggestInput(forms.TextInput):
    """A text field that suggests the newest matches while people type, without a list of all.

    The browser offers the suggestions of a ``<datalist>`` natively. The page carries the first
    few; as people type, htmx asks ``url`` (with the field's name and value) for matching ones,
    rendered on the server, and swaps them in. Without JavaScript the first suggestions still
    show, and whatever identifies one item (a number, a prefix) is accepted when posted.
    """

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.url = ""
        self.suggest: Callable[[], Sequence[Suggestion]] = list  # only called when rendered

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        list_id = f"{(attrs or {}).get('id') or name}-suggestions"
        live = {"list": list_id, "autocomplete": "off"}
        if self.url:
            live.update(
                {
                    "hx-get": self.url,
                    "hx-trigger": "input changed delay:250ms",
                    "hx-target": f"#{list_id}",
                    "hx-sync": "this:replace",
                }
            )
        field = super().render(name, value, {**(attrs or {}), **live}, renderer)
        return format_html(
            '{}<datalist id="{}">{}</datalist>', field, list_id, render_suggestions(self.suggest())
        )
