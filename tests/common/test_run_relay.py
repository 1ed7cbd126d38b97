"""`make run`'s relay (scripts/run.py): every line of a service's output, prefixed with its
name, whatever pieces the pipe hands it in."""

import asyncio
import importlib.util
import io
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("versioner_run_script", ROOT / "scripts/run.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _relayed(pieces: list[bytes], monkeypatch: pytest.MonkeyPatch) -> str:
    run = _run_script()
    out = io.StringIO()
    monkeypatch.setattr(run.sys, "stdout", out)

    async def relay() -> None:
        stream = asyncio.StreamReader()
        for piece in pieces:
            stream.feed_data(piece)
        stream.feed_eof()
        await run._pipe("policy", stream)

    asyncio.run(relay())
    return out.getvalue()


def test_lines_split_anywhere_come_out_whole_and_prefixed(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "first line\nsecond: café\n\nlast line without its newline".encode()
    # Cut inside a line, inside a multi-byte character (é) and right after a newline.
    cut = text.index("é".encode()) + 1
    pieces = [text[:5], text[5:11], text[11:cut], text[cut:]]
    assert _relayed(pieces, monkeypatch) == (
        "  policy | first line\n"
        "  policy | second: café\n"
        "  policy | \n"
        "  policy | last line without its newline\n"
    )


def test_a_long_burst_keeps_every_line_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    text = b"".join(f"line {n}\n".encode() for n in range(20_000))
    relayed = _relayed([text[i : i + 4_000] for i in range(0, len(text), 4_000)], monkeypatch)
    assert relayed.splitlines() == [f"  policy | line {n}" for n in range(20_000)]
