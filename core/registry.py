"""What the apps declare for core to collect, found through Django's app registry.

``core`` imports no app: each app that has periodic jobs or role permissions says so in a
module of its own (``<app>/periodic.py``, ``<app>/roles.py``), and core reads those modules
of the installed apps.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.apps import apps


def declarations(module: str, attribute: str) -> list[Any]:
    """``<app>.<module>.<attribute>`` of every installed app that has that module, in app order."""
    found = []
    for config in apps.get_app_configs():
        name = f"{config.name}.{module}"
        try:
            declared = import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise  # the module exists but imports something missing: that is a bug
            continue
        if hasattr(declared, attribute):  # core's own collector modules share the names
            found.append(getattr(declared, attribute))
    return found
