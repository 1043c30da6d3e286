"""Versioned prompt files: loading, hashing and rendering into chat messages.

Prompts live in ``prompts/*.toml`` at the project root (shipped inside the wheel as
``pactx/_prompts``). Each file has a ``version``, a ``system`` text and a ``user`` template
with a ``{text}`` slot. The SHA-256 of the file's bytes is recorded with every result.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Prompt",
    "DEFAULT_PROMPT",
    "load_prompt",
    "prompt_dirs",
    "fenced_document",
    "escape_document",
    "unescape_document",
]

DEFAULT_PROMPT = "extract_v1"
OPEN_FENCE, CLOSE_FENCE = "<document>\n", "\n</document>"

# Any closing tag a reader could take for the fence's end (``</document>``, ``</DOCUMENT >``,
# ``< /document attr>``) gets one space after its slash; unescaping takes exactly one away, so
# the round trip is exact even for a text that already held ``</ document>``.
_CLOSE_TAG = re.compile(r"<(\s*)/(\s*document\b[^>]*>)", re.IGNORECASE)
_ESCAPED_CLOSE_TAG = re.compile(r"<(\s*)/ (\s*document\b[^>]*>)", re.IGNORECASE)


def escape_document(text: str) -> str:
    """``text`` with every closing ``document`` tag defused, so it cannot end the fence."""
    return _CLOSE_TAG.sub(r"<\1/ \2", text)


def unescape_document(text: str) -> str:
    """The inverse of :func:`escape_document`."""
    return _ESCAPED_CLOSE_TAG.sub(r"<\1/\2", text)


def fenced_document(messages: list[dict[str, Any]]) -> str | None:
    """The document fenced in the last user message of a request, if there is one."""
    for message in reversed(messages):
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, str):
            start = content.find(OPEN_FENCE)
            end = content.rfind(CLOSE_FENCE)
            if start >= 0 and end > start:
                return unescape_document(content[start + len(OPEN_FENCE) : end])
    return None


def prompt_dirs() -> list[Path]:
    """Folders searched for prompt files, first match wins."""
    here = Path(__file__).resolve().parent
    return [here / "_prompts", here.parent / "prompts"]


@dataclass(frozen=True)
class Prompt:
    """A loaded prompt file."""

    name: str
    version: str
    system: str
    user: str
    sha256: str
    path: Path
    questions: dict[str, str] = field(default_factory=dict, hash=False)
    """Named question templates (the staged strategy's), from the file's ``[questions]`` table."""

    @property
    def short_hash(self) -> str:
        """First 12 hex digits of the file hash."""
        return self.sha256[:12]

    def messages(self, text: str) -> list[dict[str, str]]:
        """Chat messages for one document; the document is fenced, never interpreted."""
        fenced = escape_document(text)
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.user.replace("{text}", fenced)},
        ]

    def question(self, question: str, **slots: str) -> str:
        """The question template named ``question`` with its ``{slots}`` filled (values are not re-scanned)."""
        if question not in self.questions:
            raise KeyError(f"prompt {self.name} has no question {question!r}")
        template = self.questions[question]
        return re.sub(r"\{(\w+)\}", lambda m: slots.get(m.group(1), m.group(0)), template)


def load_prompt(name_or_path: str | Path = DEFAULT_PROMPT) -> Prompt:
    """Load a prompt by name (``extract_v1``) or by path to a ``.toml`` file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" and candidate.is_file():
        path = candidate
    else:
        matches = [d / f"{name_or_path}.toml" for d in prompt_dirs()]
        found = [p for p in matches if p.is_file()]
        if not found:
            searched = ", ".join(str(p) for p in matches)
            raise FileNotFoundError(f"prompt {name_or_path!r} not found (looked for {searched})")
        path = found[0]
    raw = path.read_bytes()
    data = tomllib.loads(raw.decode("utf-8"))
    missing = [key for key in ("version", "system", "user") if key not in data]
    if missing:
        raise ValueError(f"prompt file {path} lacks {', '.join(missing)}")
    if "{text}" not in data["user"]:
        raise ValueError(f"prompt file {path}: the user template has no {{text}} slot")
    questions = data.get("questions", {})
    if not isinstance(questions, dict) or not all(isinstance(v, str) for v in questions.values()):
        raise ValueError(f"prompt file {path}: [questions] must map names to strings")
    return Prompt(
        name=path.stem,
        version=str(data["version"]),
        system=str(data["system"]),
        user=str(data["user"]),
        sha256=hashlib.sha256(raw).hexdigest(),
        path=path,
        questions=dict(questions),
    )
