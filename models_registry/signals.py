"""Signals other apps listen to, so the registry never imports them."""

from django.dispatch import Signal

# Sent after the transaction that registered a new version commits; kwargs: version.
version_registered = Signal()
