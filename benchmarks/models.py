"""Speed of the embedded GGUF candidates on this machine: ``python3 benchmarks/models.py``.

For each model, on a ~450-token document made of seed lines:

* prompt evaluation, tokens/s (``Llama.eval`` of the whole document, KV cache empty);
* generation, tokens/s (greedy, one ``Llama.eval`` of one token per step);
* the staged workload: evaluate the document once, then ask 10 short follow-up questions
  (~30 tokens each), each one rewinding the KV cache to the end of the document
  (``llama.n_tokens = prefix``; the next ``eval`` drops the stale cache entries), and read
  only the next-token log-probabilities of a fixed set of candidate answers.

Every measurement runs ``--repeats`` times and the minimum is reported (the CPU is shared).
Two checks on the last question's candidate log-probabilities: the rewound cache against a
fresh cache fed the document and then the question (must be 0: rewinding is exact), and
against document + question decoded in one batch (differs slightly: llama.cpp's quantized
kernels round differently for different batch sizes). Results go to stdout as a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # benchmark this checkout, whatever is installed

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before llama_cpp loads OpenMP; see main()

import llama_cpp  # noqa: E402
from llama_cpp import Llama  # noqa: E402

from pactx.providers import embedded_model_path  # noqa: E402

SEEDS = ROOT.parent / "shared" / "seeds"
DOC_TOKENS = 450
QUESTIONS = 10
GEN_TOKENS = 32
CANDIDATES = (" yes", " no")
QUESTION_TEMPLATES = (
    "\n\nQuestion: Does the document above report that {a} and {b} signed a security agreement? Answer yes or no.\nAnswer:",
    "\n\nQuestion: Is {a} named in the document above as a party to a defense pact with {b}? Answer yes or no.\nAnswer:",
)
PAIRS = (
    ("Saudi Arabia", "Pakistan"), ("Japan", "South Korea"), ("Australia", "Papua New Guinea"),
    ("the EU", "Canada"), ("Russia", "North Korea"), ("France", "Brazil"), ("Poland", "Germany"),
    ("the United States", "Japan"), ("China", "Japan"), ("Tuvalu", "Australia"),
)


def document_text() -> str:
    """Seed lines joined into one text longer than ``DOC_TOKENS`` in any vocabulary here."""
    lines = [line for path in sorted(SEEDS.glob("*.txt")) for line in path.read_text().splitlines() if line]
    return "Document:\n" + "\n".join(lines[:12])


def best(repeats: int, run: Callable[[], None]) -> tuple[float, float]:
    """Wall and process CPU seconds of the fastest of ``repeats`` runs of ``run``.

    CPU seconds (all threads) measure the work itself; on a shared, busy CPU they vary much
    less than wall time, which also holds the time spent waiting for a core.
    """
    timings = []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        timings.append((time.perf_counter() - wall, time.process_time() - cpu))
    return min(timings)


def next_token_logits(llama: Any) -> np.ndarray:
    """Logits of the next token after the last ``eval``.

    With ``logits_all=False`` (the default, and the cheap setting: the output layer runs for
    the last token of a batch only) llama-cpp-python 0.3.x no longer copies them to
    ``llama.scores``, so they are read from the context: ``llama_get_logits_ith(ctx, -1)``.
    """
    pointer = llama_cpp.llama_get_logits_ith(llama.ctx, -1)
    return np.ctypeslib.as_array(pointer, shape=(llama.n_vocab(),)).copy()


def next_token_logprobs(llama: Any, candidates: Sequence[int]) -> np.ndarray:
    """Log-probabilities of ``candidates`` as the next token after what has been evaluated."""
    logits = next_token_logits(llama).astype(np.float64)
    top = logits.max()
    log_z = top + np.log(np.exp(logits - top).sum())
    return logits[list(candidates)] - log_z


def measure(name: str, repeats: int, threads: int) -> dict[str, Any]:
    path = Path(name) if name.endswith(".gguf") else embedded_model_path(name)
    started = time.perf_counter()
    llama = Llama(model_path=str(path), n_ctx=1024, n_batch=512, n_threads=threads, seed=0, verbose=False)
    load_s = time.perf_counter() - started
    doc = llama.tokenize(document_text().encode(), add_bos=True)[:DOC_TOKENS]
    candidates = [llama.tokenize(c.encode(), add_bos=False)[0] for c in CANDIDATES]
    questions = [
        llama.tokenize(QUESTION_TEMPLATES[i % 2].format(a=a, b=b).encode(), add_bos=False)
        for i, (a, b) in enumerate(PAIRS[:QUESTIONS])
    ]
    llama.eval(doc[:64])  # warm-up: the first decode allocates compute buffers

    def prompt_eval() -> None:
        llama.reset()
        llama.eval(doc)

    def generate() -> None:
        llama.n_tokens = len(doc)  # after prompt_eval: generate from the end of the document
        for _ in range(GEN_TOKENS):
            llama.eval([int(np.argmax(next_token_logits(llama)))])

    answers: list[np.ndarray] = []

    def staged() -> None:
        answers.clear()
        llama.reset()
        llama.eval(doc)
        prefix = llama.n_tokens
        for question in questions:
            llama.n_tokens = prefix  # rewind: eval() removes KV entries from n_tokens on
            llama.eval(question)
            answers.append(next_token_logprobs(llama, candidates))

    prompt_eval()
    pe = best(repeats, prompt_eval)
    gen = best(repeats, generate)
    stage = best(repeats, staged)
    llama.reset()  # fresh: the document, then the last question, from an empty cache
    llama.eval(doc)
    llama.eval(questions[-1])
    fresh = next_token_logprobs(llama, candidates)
    llama.reset()  # cold: document and question in one batch
    llama.eval(doc + questions[-1])
    cold = next_token_logprobs(llama, candidates)
    return {
        "model": name,
        "size_mb": path.stat().st_size / 1e6,
        "load_s": load_s,
        "prompt_tps": len(doc) / pe[0],
        "prompt_cpu_tps": len(doc) / pe[1],
        "gen_tps": GEN_TOKENS / gen[0],
        "gen_cpu_tps": GEN_TOKENS / gen[1],
        "staged_s": stage[0],
        "staged_cpu_s": stage[1],
        "question_tokens": sum(map(len, questions)) / len(questions),
        "doc_tokens": len(doc),
        "reuse_max_diff": float(np.abs(fresh - answers[-1]).max()),
        "batching_max_diff": float(np.abs(cold - answers[-1]).max()),
        "p_yes": [float(np.exp(a[0]) / np.exp(a).sum()) for a in answers],
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        default="smollm2-135m,gemma3-270m,qwen2.5-coder-0.5b",
        help="comma-separated embedded model names or paths of .gguf files",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    # llama.cpp's OpenMP threads spin while waiting; on a shared, oversubscribed CPU that
    # costs several times the work itself, so this script defaults to OMP_WAIT_POLICY=PASSIVE.
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; threads {args.threads}; "
          f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}; llama-cpp-python {llama_cpp.__version__}; "
          f"min of {args.repeats} runs")
    print("| model | GGUF MB | load s | prompt eval tok/s (per CPU-s) | generation tok/s (per CPU-s) "
          f"| staged: {DOC_TOKENS}-token doc + {QUESTIONS} questions, wall s (CPU s) "
          "| max abs Δlogprob: rewound vs fresh cache; vs one batch |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models.split(","):
        r = measure(name, args.repeats, args.threads)
        print(f"| {r['model']} | {r['size_mb']:.0f} | {r['load_s']:.1f} | {r['prompt_tps']:.0f} "
              f"({r['prompt_cpu_tps']:.0f}) | {r['gen_tps']:.1f} ({r['gen_cpu_tps']:.1f}) | "
              f"{r['staged_s']:.2f} ({r['staged_cpu_s']:.2f}) for {r['doc_tokens']} + {QUESTIONS}×"
              f"{r['question_tokens']:.0f} tokens | {r['reuse_max_diff']:.2g}; {r['batching_max_diff']:.2g} |",
              flush=True)
        print(f"<!-- {name} P(yes) per question: {' '.join(f'{p:.2f}' for p in r['p_yes'])} -->")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
