from pathlib import Path

from pactx.documents import Document, InputFailure, read_documents


def test_every_kind_of_bad_input_is_reported_and_good_ones_survive(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Mali and Niger signed a pact.", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    (tmp_path / "blank.txt").write_text(" \n\t\n", encoding="utf-8")
    (tmp_path / "bin.txt").write_bytes(b"\x89PNG\x00\x00\x01binary")
    (tmp_path / "latin.txt").write_bytes("na\xefve".encode("latin-1"))
    (tmp_path / "docs.jsonl").write_text(
        '{"id": "j1", "text": "Japan and ASEAN agreed."}\nnot json\n{"id": "j3"}\n{"id": "j4", "text": "Fine."}\n',
        encoding="utf-8",
    )
    items = list(read_documents([tmp_path / "a.txt", tmp_path / "empty.txt", tmp_path / "blank.txt",
                                 tmp_path / "bin.txt", tmp_path / "latin.txt", tmp_path / "docs.jsonl",
                                 tmp_path / "nope.txt"]))
    good = [i.id for i in items if isinstance(i, Document)]
    bad = {i.id: i.error for i in items if isinstance(i, InputFailure)}
    assert good == ["a", "j1", "j4"]
    assert "empty" in bad["empty"] and "empty" in bad["blank"]
    assert "binary" in bad["bin"] and "UTF-8" in bad["latin"]
    assert "not JSON" in bad["docs:2"] and "'text'" in bad["docs:3"]
    assert "no such file" in bad[str(tmp_path / "nope.txt")]


def test_lines_mode_ids_and_directories_and_globs(tmp_path: Path) -> None:
    (tmp_path / "s.txt").write_text("one\n\ntwo\n", encoding="utf-8")
    docs = list(read_documents([tmp_path / "s.txt"], lines=True))
    assert [(d.id, d.text) for d in docs] == [("s:1", "one"), ("s:3", "two")]
    assert [d.id for d in read_documents([tmp_path])] == ["s"]
    assert [d.id for d in read_documents([str(tmp_path / "*.txt")])] == ["s"]
    [failure] = read_documents([str(tmp_path / "*.md")])
    assert isinstance(failure, InputFailure) and "no file matches" in failure.error
