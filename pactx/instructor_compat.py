"""What pactx changes in instructor, kept in one place: a prepared response model and one patch.

Both only save time per request; neither changes what is sent or how answers are validated.
They rely on instructor internals (1.1x, the v2 core), so ``tests/test_instructor_compat.py``
fails, naming the missing piece, when an instructor release moves or changes them.
"""

from __future__ import annotations

import json
from importlib import import_module
from typing import Any, TypeVar

import instructor
import orjson
from pydantic import BaseModel

__all__ = [
    "PATCHED_FUNCTION",
    "PATCHED_MODULES",
    "prepared_response_model",
    "skip_repeated_async_validator_walk",
]

_M = TypeVar("_M", bound=BaseModel)

PATCHED_FUNCTION = "reject_async_validators"
"""The instructor function :func:`skip_repeated_async_validator_walk` replaces."""

PATCHED_MODULES: tuple[str, ...] = ("instructor.v2.validation.async_validators", "instructor.v2.core.patch")
"""Where it is replaced: its own module, and ``patch``, which imports it by name."""


def prepared_response_model(model: type[_M]) -> type[_M]:
    """``model`` as instructor would wrap it on every call, once, with a memoized JSON schema.

    instructor builds a new pydantic class around a plain model (``create_model``) and
    regenerates its JSON schema for every request, about 10 ms a call. The class returned here
    already is an ``OpenAISchema`` (so it is not wrapped again) with the same name and
    docstring, so the schema the model sees is unchanged.
    """
    schemas: dict[Any, str] = {}

    def model_json_schema(cls: type[BaseModel], *args: Any, **kwargs: Any) -> dict[str, Any]:
        key = (args, tuple(sorted(kwargs.items())))
        if key not in schemas:
            schemas[key] = json.dumps(super(prepared, cls).model_json_schema(*args, **kwargs))  # type: ignore[misc]
        return orjson.loads(schemas[key])  # type: ignore[no-any-return]  # a fresh copy: callers may edit it

    namespace = {
        "__module__": model.__module__,
        "__qualname__": model.__qualname__,
        "__doc__": model.__doc__,
        "model_json_schema": classmethod(model_json_schema),
    }
    prepared: type[_M] = type(model.__name__, (model, instructor.OpenAISchema), namespace)
    return prepared


def skip_repeated_async_validator_walk(model: type[BaseModel]) -> None:
    """Let instructor check ``model`` for async validators once, not on every call.

    instructor (1.1x, v2 core) walks every class of the response model on each request to
    refuse async validators, about 1 ms a call, the largest single cost of a batch request.
    pactx's response model is fixed and has none; after one real check, the walk is skipped
    for that model only. Other response models, and instructor versions without this hook,
    are untouched. Applying it twice is a no-op.
    """
    try:
        modules = [import_module(name) for name in PATCHED_MODULES]
    except ImportError:  # an instructor without the v2 core
        return
    original = getattr(modules[0], PATCHED_FUNCTION, None)
    if original is None or hasattr(original, "__pactx_checked__"):
        return
    original(model)  # raises now, at import, if the model ever gains an async validator

    def reject_async_validators(response_model: Any) -> None:
        if response_model is not model:
            original(response_model)

    reject_async_validators.__pactx_checked__ = model  # type: ignore[attr-defined]
    reject_async_validators.__wrapped__ = original  # type: ignore[attr-defined]
    for module in modules:
        if getattr(module, PATCHED_FUNCTION, None) is original:
            setattr(module, PATCHED_FUNCTION, reject_async_validators)
