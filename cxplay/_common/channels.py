"""The channels an incident can come from and a reply can go to.

A module of its own so that the command line can offer them as choices without importing
the models (:mod:`cxplay._common.fields` declares the ``Channel`` type from them).
"""

from __future__ import annotations

__all__ = ["CHANNELS"]

CHANNELS = (
    "email",
    "phone",
    "chat",
    "sms",
    "social_public",
    "social_private",
    "in_person",
    "web_form",
)
