"""Console lines: each is written whole, so that jobs printing side by side do not run into each other."""

from __future__ import annotations

import io

import pytest

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


@pytest.mark.parametrize("command, inner", [("vae_collapse.report.cli", "_main"),
                                            ("vae_collapse.eval_cli", "_argument_problem")])
def test_ctrl_c_in_the_report_and_eval_commands_is_one_line(command, inner, monkeypatch, capsys):
    import importlib

    module = importlib.import_module(command)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(module, inner, interrupted)
    with pytest.raises(SystemExit) as stopped:
        module.main(["somewhere"])
    assert stopped.value.code == 130
    assert capsys.readouterr().err == f"{module.PROG}: interrupted (Ctrl-C); the files written so far are kept\n"
