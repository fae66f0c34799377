"""Adapters for the external systems the dashboard talks to.

One package per kind of system (model stores, registries, build services, deployment
targets). Each package defines a small interface, a real implementation on the vendor
SDK and a local one that is the embedded default. Only this package imports ``azure.*``
or ``kubernetes``. Adapters return plain dataclasses and raise the errors in
:mod:`integrations.errors`, never Django objects or vendor exceptions.
"""
