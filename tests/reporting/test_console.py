"""Console lines: each is written whole, so that jobs printing side by side do not run into each other."""

from __future__ import annotations

import io

from vae_collapse.reporting import console


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def test_a_line_and_its_newline_go_out_in_one_write(monkeypatch):
    out, err = CountingStream(), CountingStream()
    monkeypatch.setattr(console.sys, "stdout", out)
    monkeypatch.setattr(console.sys, "stderr", err)
    console.say("vae-collapse: job seed=0: step 1/10 (10%)")
    console.say("vae-collapse: warning: something", err=True)
    assert out.writes == ["vae-collapse: job seed=0: step 1/10 (10%)\n"]
    assert err.writes == ["vae-collapse: warning: something\n"]
