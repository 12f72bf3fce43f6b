"""The W&B logger never reaches W&B's login prompt: online needs a key W&B would find by itself."""

from __future__ import annotations

import pytest

from vae_collapse.reporting.wandb_logger import RunWandbLogger, has_wandb_key


@pytest.fixture
def home(tmp_path, monkeypatch):
    for name in ("WANDB_API_KEY", "NETRC", "WANDB_BASE_URL", "WANDB_IDENTITY_TOKEN_FILE", "WANDB_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_a_netrc_without_a_wandb_entry_is_no_key(home):
    assert not has_wandb_key()
    (home / ".netrc").write_text("machine github.com login me password secret\n")
    assert not has_wandb_key()
    with pytest.raises(ValueError, match="mode=online needs WANDB_API_KEY or `wandb login`"):
        RunWandbLogger(mode="online", save_dir=str(home / "run"))


def test_wandb_login_or_the_environment_is_a_key(home, monkeypatch):
    (home / ".netrc").write_text("machine api.wandb.ai login user password 0123456789abcdef\n")
    assert has_wandb_key()
    (home / ".netrc").write_text("")
    monkeypatch.setenv("WANDB_BASE_URL", "https://wandb.example.org")
    (home / ".netrc").write_text("machine wandb.example.org login user password 0123456789abcdef\n")
    assert has_wandb_key()
    (home / ".netrc").unlink()
    monkeypatch.setenv("WANDB_API_KEY", "0123456789abcdef")
    assert has_wandb_key()


def test_the_host_wandb_login_saved_is_the_one_looked_up(home, monkeypatch):
    (home / ".config" / "wandb").mkdir(parents=True)
    (home / ".config" / "wandb" / "settings").write_text("[default]\nbase_url = https://wandb.mycorp.example\n")
    (home / ".netrc").write_text("machine wandb.mycorp.example login user password 0123456789abcdef\n")
    monkeypatch.delenv("WANDB_CONFIG_DIR", raising=False)
    assert has_wandb_key()
    (home / ".netrc").write_text("machine api.wandb.ai login user password 0123456789abcdef\n")
    assert not has_wandb_key()  # a key for the cloud is not one for the company's server
