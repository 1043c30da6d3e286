"""What the fork server behind :func:`pactx.extract_many`'s worker processes loads once.

:func:`pactx.batch.extract_many` starts its workers from a fork server (:mod:`pactx.workers`)
that imports this module when it first starts. Everything imported or built here is
inherited by every worker of every batch of the process, instead of being paid again by each
worker on its first documents: the modules a worker imports lazily on its first call (the
openai client's chat resources, instructor's OpenAI handlers) and the party-name index
(:func:`pactx.parties.resolve`'s table of country and organization names, about 0.1 s to build).
A module that cannot be imported is left out: each worker then loads it itself, as before.
"""

from __future__ import annotations

import contextlib
import importlib

import pactx.batch  # noqa: F401  (the worker's own code, and the extractor's)
from pactx.parties import resolve

__all__: list[str] = []

for _module in ("openai.resources.chat.completions", "instructor.v2.providers.openai.handlers"):
    with contextlib.suppress(ImportError):
        importlib.import_module(_module)

resolve("France")  # builds the party-name index
