"""pactx's instructor patch and prepared model still apply to the installed instructor.

Each test fails, saying what moved, when an instructor release changes what
:mod:`pactx.instructor_compat` relies on; none of them skips.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import import_module
from types import CodeType, FrameType, ModuleType
from typing import Any

import httpx
import instructor
import pytest
from pydantic import BaseModel

from helpers import SAHEL, SAHEL_ANSWER, ScriptedServer, completion, mock_backend
from pactx import Extractor
from pactx.extraction import RESPONSE_MODEL
from pactx.instructor_compat import PATCHED_FUNCTION, PATCHED_MODULES
from pactx.validation import GroundedAgreementList

UPDATE = f"instructor {instructor.__version__}: update pactx/instructor_compat.py"


def _module(name: str) -> ModuleType:
    try:
        return import_module(name)
    except ImportError as exc:
        pytest.fail(f"{UPDATE}: module {name} is gone ({exc})")


def _hook() -> Callable[[Any], None]:
    module = _module(PATCHED_MODULES[0])
    hook = getattr(module, PATCHED_FUNCTION, None)
    if hook is None:
        pytest.fail(f"{UPDATE}: {PATCHED_MODULES[0]}.{PATCHED_FUNCTION} is gone")
    return hook  # type: ignore[no-any-return]


@contextmanager
def _calls(*codes: CodeType) -> Iterator[dict[CodeType, list[Any]]]:
    """The first argument of every call of these functions' code, in any thread, while open."""
    seen: dict[CodeType, list[Any]] = {code: [] for code in codes}

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code in seen:
            first = frame.f_code.co_varnames[0]
            seen[frame.f_code].append(frame.f_locals.get(first))

    previous = sys.getprofile()
    threading.setprofile(profile)  # type: ignore[arg-type]
    sys.setprofile(profile)  # type: ignore[arg-type]
    try:
        yield seen
    finally:
        sys.setprofile(previous)
        threading.setprofile(None)  # type: ignore[arg-type]


def test_the_patch_is_installed_wherever_instructor_looks_the_function_up() -> None:
    for name in PATCHED_MODULES:
        function = getattr(_module(name), PATCHED_FUNCTION, None)
        assert function is not None, f"{UPDATE}: {name}.{PATCHED_FUNCTION} is gone"
        assert getattr(function, "__pactx_checked__", None) is RESPONSE_MODEL, (
            f"{UPDATE}: {name}.{PATCHED_FUNCTION} is not pactx's patch (it no longer applies)"
        )


def test_other_models_are_still_walked_and_refused_when_they_have_async_validators() -> None:
    async_validators = _module(PATCHED_MODULES[0])
    marker = getattr(async_validators, "async_field_validator", None)
    assert marker is not None, f"{UPDATE}: {PATCHED_MODULES[0]}.async_field_validator is gone"

    class WithAsyncValidator(BaseModel):
        x: int

        @marker("x")  # type: ignore[misc]
        async def check(self, value: int) -> int:
            return value

    hook = _hook()
    hook(RESPONSE_MODEL)  # skipped: no walk, no error
    with pytest.raises(ValueError, match="async validators"):
        hook(WithAsyncValidator)
    with pytest.raises(ValueError, match="async validators"):
        hook.__wrapped__(WithAsyncValidator)  # type: ignore[attr-defined]  # instructor's own check


def test_a_request_goes_through_the_patch_and_never_walks_pactx_model() -> None:
    hook = _hook()
    original = getattr(hook, "__wrapped__", None)
    assert original is not None, f"{UPDATE}: the patch did not apply (no __wrapped__ on {PATCHED_FUNCTION})"
    server = ScriptedServer(httpx.Response(200, json=completion(SAHEL_ANSWER)))
    extractor = Extractor(backend=mock_backend(server))
    with _calls(hook.__code__, original.__code__) as seen:
        result = extractor.extract(SAHEL)
        original(GroundedAgreementList)  # control: the profiler does see instructor's walk
    assert result.agreements
    assert RESPONSE_MODEL in seen[hook.__code__], (
        f"{UPDATE}: a request no longer calls {PATCHED_FUNCTION} through the patched modules"
    )
    walked = seen[original.__code__]
    assert walked[-1] is GroundedAgreementList
    assert walked[:-1] == [], (
        f"{UPDATE}: instructor walked {walked[:-1]} during a request; "
        f"it calls {PATCHED_FUNCTION} from a place the patch does not reach"
    )


def test_instructor_uses_the_prepared_response_model_as_it_is() -> None:
    response_model = _module("instructor.v2.core.response_model")
    prepare = getattr(response_model, "prepare_response_model", None)
    assert prepare is not None, f"{UPDATE}: instructor.v2.core.response_model.prepare_response_model is gone"
    assert prepare(RESPONSE_MODEL) is RESPONSE_MODEL, (
        f"{UPDATE}: instructor wraps pactx's prepared response model again (its schema is no longer memoized)"
    )
    schema = RESPONSE_MODEL.model_json_schema()
    assert schema == GroundedAgreementList.model_json_schema()
    schema["title"] = "edited"
    assert RESPONSE_MODEL.model_json_schema()["title"] == "GroundedAgreementList"  # callers get a fresh copy
