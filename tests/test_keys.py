"""Cache and recording keys cover what constrains the embedded model: cue vocabulary and grammar code."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from openai.types.chat import ChatCompletion

import pactx.cues as cues
import pactx.providers as providers
from pactx.evals import runner
from pactx.evals.fixtures import load_cases
from pactx.evals.recording import Recordings, ReplayBackend, request_key
from pactx.extraction import Extractor
from pactx.prompts import load_prompt
from pactx.providers import LlamaCppBackend, ProviderConfig, constraints_fingerprint
from pactx.schema import AgreementStatus
from pactx.testserver import floor_responder

TEXT = "Niger has revoked its security pact with the United States."


class CannedLlama(LlamaCppBackend):
    """The embedded backend's identity and parameters, answering with the rule-based floor."""

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def complete(self, **kwargs: Any) -> ChatCompletion:
        answer = floor_responder({"messages": kwargs["messages"]})
        return ChatCompletion.model_validate(
            {
                "id": "canned",
                "object": "chat.completion",
                "created": 0,
                "model": self.model,
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": json.dumps(answer)}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )


def canned(tmp_path: Path, decoding: str = "source+choices") -> CannedLlama:
    model = tmp_path / "canned.gguf"
    model.write_bytes(b"GGUF")  # never loaded
    return CannedLlama(ProviderConfig(model=str(model), decoding=decoding))


def add_revocation_word(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cue edit: one more word for ending an agreement."""
    edited = tuple(
        (status, re.compile(r"\bannul\w*|" + pattern.pattern, pattern.flags))
        if status is AgreementStatus.TERMINATED
        else (status, pattern)
        for status, pattern in cues.STATUS_CUES
    )
    monkeypatch.setattr(cues, "STATUS_CUES", edited)
    assert cues.statuses_cued("The pact was annulled.")[0] is AgreementStatus.TERMINATED


def keys(backend: CannedLlama) -> tuple[str, str, str]:
    prompt = load_prompt("extract_v1")
    record = request_key(
        model=backend.model,
        provider=backend.provider,
        prompt_hash=prompt.sha256,
        schema_hash="s",
        params=backend.generation_params(),
        request={"messages": prompt.messages(TEXT)},
    )
    cache = Extractor(backend=backend, prompt=prompt)._cache_key(TEXT)
    return backend.generation_params()["constraints"], record, cache


def test_the_fingerprint_is_stable_and_names_the_decoding(tmp_path: Path) -> None:
    backend = canned(tmp_path)
    assert backend.generation_params()["constraints"] == constraints_fingerprint("source+choices")
    assert constraints_fingerprint("source+choices") == constraints_fingerprint("source+choices")
    assert constraints_fingerprint("source") != constraints_fingerprint("source+choices")
    assert backend.generation_params()["decoding"] == "source+choices"


def test_a_cue_edit_changes_the_recording_key_and_the_cache_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = canned(tmp_path)
    before = keys(backend)
    add_revocation_word(monkeypatch)
    after = keys(backend)
    assert all(old != new for old, new in zip(before, after, strict=True))
    monkeypatch.undo()
    assert keys(backend) == before  # the same code gives the same keys


def test_a_grammar_helper_edit_changes_the_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    before = constraints_fingerprint("source+choices")
    original = providers.grammar_schema

    def grammar_schema(schema: Any) -> Any:  # a changed grammar builder
        return original(schema)

    monkeypatch.setattr(providers, "grammar_schema", grammar_schema)
    assert constraints_fingerprint("source+choices") != before


def test_replay_keys_on_todays_constraints_not_the_recorded_ones() -> None:
    old = {"decoding": "source+choices", "constraints": "recorded-long-ago", "seed": 0}
    replay = ReplayBackend(
        Recordings(Path("/nonexistent"), "m"), model="m", provider="llama-cpp", mode=LlamaCppBackend.mode,
        params=old, prompt_hash="p", schema_hash="s",
    )
    assert replay.generation_params()["constraints"] == constraints_fingerprint("source+choices")
    endpoint = ReplayBackend(
        Recordings(Path("/nonexistent"), "m"), model="m", provider="openai-compatible", mode=LlamaCppBackend.mode,
        params={"seed": 0}, prompt_hash="p", schema_hash="s",
    )
    assert "constraints" not in endpoint.generation_params()


def test_after_a_cue_edit_replay_reports_the_recordings_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = [c for c in load_cases() if c.id in ("seed-000-01", "seed-000-09", "seed-001-09")]
    root = tmp_path / "recordings"
    monkeypatch.setattr(runner, "make_backend", lambda config: canned(tmp_path))
    recorded = runner.predict(cases, runner.make_extractor(runner.RunSpec(mode="record", recordings=root, strategy="direct")))
    assert not recorded.replay_misses and len(Recordings(root, "canned")) == len(cases)
    fingerprint = constraints_fingerprint("source+choices")
    assert {p.metadata.constraints_hash for p in recorded.predictions.values() if p.metadata} == {fingerprint}

    replay = runner.RunSpec(mode="replay", model="canned", recordings=root, strategy="direct")
    replayed = runner.predict(cases, runner.make_extractor(replay))
    assert replayed.replay_misses == []
    report, _ = runner.evaluate(cases, replayed.predictions, bootstrap=10)
    assert report["run"]["constraints_hash"] == fingerprint

    add_revocation_word(monkeypatch)
    stale = runner.predict(cases, runner.make_extractor(replay))
    assert stale.replay_misses == [c.id for c in cases]  # reported missing, never silently reused
    assert "decoding constraints" in stale.lines[0]["error"]["message"]
