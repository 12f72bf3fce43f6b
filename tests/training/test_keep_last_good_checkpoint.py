import torch

from vae_collapse.training.checkpoints import keep_last_good_checkpoint


def _save(path, step):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"global_step": step}, path)


def test_a_checkpoint_saved_at_the_bad_step_gives_way_to_the_one_before(tmp_path):
    last = tmp_path / "checkpoints" / "last.ckpt"
    _save(last.with_name("last.prev.ckpt"), 5)
    _save(last, 10)
    reason = keep_last_good_checkpoint(last, bad_step=10)
    assert "(step 5;" in reason and torch.load(last, weights_only=True)["global_step"] == 5
    assert torch.load(last.with_name("diverged.ckpt"), weights_only=True)["global_step"] == 10


def test_a_run_resumed_into_a_new_folder_names_the_checkpoint_it_started_from(tmp_path):
    source = tmp_path / "first" / "checkpoints" / "last.ckpt"
    _save(source, 20)
    last = tmp_path / "resumed" / "checkpoints" / "last.ckpt"
    reason = keep_last_good_checkpoint(last, bad_step=22, resumed_from=source)
    assert reason.endswith(f"the last good one is {source}, where it started")
    assert keep_last_good_checkpoint(last, bad_step=22) == "no checkpoint was written yet"
    # Resumed in its own folder, before any new save, its last.ckpt is the one it started from
    assert "last good checkpoint kept" in keep_last_good_checkpoint(source, bad_step=22, resumed_from=source)
