"""The lean loopback server: the test server's very answers, after the configured latency."""

from __future__ import annotations

import socket
import time
from typing import Any

import httpx
import pytest

from pactx import Extractor
from pactx.fastserver import LeanOpenAIServer
from pactx.testserver import FakeOpenAIServer

DOCUMENT = "<document>\nMali, Niger and Burkina Faso signed a mutual defence pact in Niamey.\n</document>"
REQUESTS: list[dict[str, Any]] = [
    {"model": "m", "messages": [{"role": "user", "content": DOCUMENT}]},
    {"model": "m", "messages": [{"role": "user", "content": DOCUMENT}],
     "tools": [{"type": "function", "function": {"name": "GroundedAgreementList", "parameters": {}}}]},
    {"messages": [{"role": "user", "content": "no fence: Japan and the Philippines agreed a pact."}]},
]


def test_same_answers_as_the_test_server() -> None:
    with FakeOpenAIServer() as reference, LeanOpenAIServer() as lean, httpx.Client() as client:
        for request in REQUESTS:
            expected = client.post(reference.url + "/chat/completions", json=request).json()
            assert client.post(lean.url + "/chat/completions", json=request).json() == expected
        assert client.get(lean.url + "/models").json() == client.get(reference.url + "/models").json()
        assert lean.completions == len(REQUESTS)
        assert client.post(lean.url + "/nothing", json={}).status_code == 404
        assert client.post(lean.url + "/chat/completions", content=b"{not json").status_code == 400


def test_each_answer_comes_after_the_latency_over_one_kept_alive_connection() -> None:
    with LeanOpenAIServer(latency=0.3) as lean, httpx.Client() as client:
        for _ in range(3):
            started = time.perf_counter()
            client.post(lean.url + "/chat/completions", json=REQUESTS[0]).raise_for_status()
            assert 0.3 <= time.perf_counter() - started < 1.5
        assert client.post(lean.url + "/chat/completions", json=REQUESTS[0], headers={"Connection": "close"}).is_success


def test_a_request_split_across_packets_and_a_chunked_one() -> None:
    with LeanOpenAIServer() as lean:
        body = b'{"messages": [{"role": "user", "content": "Mali and Niger signed a pact."}]}'
        head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        with socket.create_connection(("127.0.0.1", lean.port)) as sock:
            for piece in (head[:10], head[10:], body[:5], body[5:]):
                sock.sendall(piece)
                time.sleep(0.02)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")
        with socket.create_connection(("127.0.0.1", lean.port)) as sock:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 411")
        with socket.create_connection(("127.0.0.1", lean.port)) as sock:
            sock.sendall(b"garbage\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 400")


def test_an_extractor_gets_the_same_result_from_both_servers() -> None:
    text = "Mali, Niger and Burkina Faso signed a mutual defence pact in Niamey on 16 September 2023."
    results = []
    for server_class in (FakeOpenAIServer, LeanOpenAIServer):
        with server_class() as server:  # type: ignore[abstract]
            results.append(Extractor(base_url=server.url, model="m").extract(text).agreements)
    assert results[0] == results[1] and results[0]


@pytest.mark.parametrize("argv", [["--latency", "0.0"]])
def test_main_prints_its_url(argv: list[str]) -> None:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen([sys.executable, "-m", "pactx.fastserver", *argv], stdout=subprocess.PIPE, text=True,
                            env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        assert httpx.get(url + "/models").json()["data"][0]["id"] == "fake-model"
    finally:
        proc.terminate()
        proc.wait(10)


def test_answers_worked_out_beforehand_are_served_by_document_and_others_get_the_floor(tmp_path: Any) -> None:
    from pactx.fastserver import table_responder, write_answers

    known = "Mali, Niger and Burkina Faso signed a mutual defence pact in Niamey."
    path = tmp_path / "answers.jsonl"
    assert write_answers(path, [known]) == 1
    planted = '{"document": "Atlantis and Lemuria signed a pact.", "answer": {"agreements": [], "from": "table"}}\n'
    path.write_text(path.read_text() + planted)
    table = table_responder(path)
    with FakeOpenAIServer() as reference, LeanOpenAIServer(table) as lean, httpx.Client() as client:
        request = REQUESTS[0]
        expected = client.post(reference.url + "/chat/completions", json=request).json()
        assert client.post(lean.url + "/chat/completions", json=request).json() == expected  # from the table
        planted_request = {"messages": [{"role": "user", "content": "<document>\nAtlantis and Lemuria signed a pact.\n</document>"}]}
        answer = client.post(lean.url + "/chat/completions", json=planted_request).json()
        assert answer["choices"][0]["message"]["content"] == '{"agreements": [], "from": "table"}'  # not the floor
        other = REQUESTS[2]
        assert client.post(lean.url + "/chat/completions", json=other).json() == client.post(
            reference.url + "/chat/completions", json=other
        ).json()
