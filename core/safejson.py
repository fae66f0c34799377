"""JSON from requests, refused cleanly when it would break the parser or the database.

Python's parser recurses once per nesting level, so ``[[[[…]]]]`` a thousand deep raises
RecursionError (a 500); PostgreSQL refuses NUL characters in text and JSON, and a lone UTF-16
surrogate (``"\\ud800"``) cannot be encoded for it at all. Every JSON body the product reads
(the API's parser, webhooks, JSON sent in form fields) goes through :func:`loads`, which turns
each of these into a ``ValueError`` saying what is wrong, for a 400.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 64  # our documents (metrics, settings, webhook payloads) are a few levels deep
# A string token (skipped whole) or a bracket: nesting is counted on brackets outside strings.
TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
SURROGATE = re.compile("[\ud800-\udfff]")


class UnsafeJSON(ValueError):
    """JSON the product will not store or cannot parse safely; the message says why."""


def loads(text: str | bytes) -> Any:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnsafeJSON(f"the body is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    check_depth(text)
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UnsafeJSON(f"not valid JSON: {exc}") from None
    check_text(value)
    return value


def check_depth(text: str) -> None:
    depth = 0
    for token in TOKENS.finditer(text):
        bracket = token.group()
        if bracket in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise UnsafeJSON(f"JSON nested more than {MAX_DEPTH} levels deep")
        elif bracket in "]}":
            depth -= 1


def check_text(value: Any, where: str = "$") -> None:
    """Refuse NUL characters and lone surrogates in any key or string of a parsed document."""
    stack = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            _check_string(item, path)
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_string(key, f"{path} (a key)")
                stack.append((child, f"{path}.{key[:40]}"))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(item))


def _check_string(text: str, path: str) -> None:
    if "\x00" in text:
        raise UnsafeJSON(f"{path} contains a NUL character (\\u0000), which cannot be stored")
    if SURROGATE.search(text):
        raise UnsafeJSON(f"{path} contains a lone UTF-16 surrogate, which is not a character")


class SafeJSONParser(JSONParser):
    """DRF's JSON parser through :func:`loads`: bad documents are a 400 with the reason."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return loads(stream.read() if stream is not None else b"")
        except UnsafeJSON as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
