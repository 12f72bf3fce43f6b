"""The bad-input table: one data structure for docs/bad-inputs.md and tests/framework/test_bad_inputs.py.

Regenerate the document after editing a row:
    .venv/bin/python -m tests.framework.bad_input_table > docs/bad-inputs.md
(test_bad_inputs checks that the file matches.)

In ``args`` these placeholders are filled in by the test:
  {run}   a folder that already holds a completed run; bad input must leave its results untouched
  {base}  another completed run of the same config (what ``resume=`` points at)
  {tmp}   a scratch folder (for files a row creates with ``setup``)
"""

from __future__ import annotations

from dataclasses import dataclass, field

# A tiny, fast run; every row adds its bad input last (a later override wins).
QUICK = ("dataset=synthetic_ppca", "model.latent_dim=3", "trainer.max_steps=5", "logger=csv",
         "trainer.enable_progress_bar=false")


@dataclass(frozen=True)
class BadInput:
    id: str
    kind: str  # the category of the list
    args: tuple[str, ...]  # after QUICK; `-m` rows put it first
    error: str  # a substring of the one error line
    setup: str | None = None  # a fixture action: "corrupt_idx", "junk_ckpt", "foreign_ckpt", "foreign_folder"
    env: dict[str, str] = field(default_factory=dict)

    def command(self) -> str:
        return "vae-collapse " + " ".join(self.args)


ROWS: tuple[BadInput, ...] = (
    BadInput("type-float", "wrong type", ("noise.init=big",), "noise.init='big': expected float"),
    BadInput("type-int", "wrong type", ("model.latent_dim=abc",), "model.latent_dim='abc': expected int"),
    BadInput("type-seed", "wrong type", ("seed=abc",), "seed='abc': expected int"),
    BadInput("type-batch-size", "wrong type", ("dataset.batch_size=big",),
             "dataset.batch_size='big': expected a number, null (the whole set at once) or auto (the model's choice)"),
    BadInput("seed-null", "wrong type", ("seed=null",), "seed=null: expected int"),
    BadInput("seed-negative", "out of range", ("seed=-1",), "seed=-1: must be between 0 and 4294967295"),
    BadInput("dataset-seed-too-large", "out of range", ("dataset.seed=4294967296",),
             "dataset.seed=4294967296: must be between 0 and 4294967295"),
    BadInput("type-node-value", "wrong type", ("eval=1",), "eval=1: eval holds settings, not a value"),
    BadInput("type-literal", "wrong type", ("model.elbo=exact",), "model.elbo='exact': expected 'analytic' | 'stochastic'"),
    BadInput("wandb-tags-not-a-list", "wrong type", ("logger=wandb", "logger.wandb.tags=baseline"),
             "logger.wandb.tags='baseline': expected list of str | null"),
    BadInput("wandb-unknown-key", "unknown key", ("logger=wandb", "+logger.wandb.foo=1"),
             "logger.wandb.foo: unknown key for RunWandbLogger; valid keys: mode, save_dir"),
    BadInput("wandb-mode-variable", "out of range", ("logger=wandb",),
             "WANDB_MODE='sometimes' (the environment variable behind logger.wandb.mode): expected one of offline",
             env={"WANDB_MODE": "sometimes"}),
    BadInput("sigma2-zero", "out of range", ("noise=fixed", "noise.sigma2=0"), "noise.sigma2=0 must be > 0"),
    BadInput("sigma2-negative", "out of range", ("noise=fixed", "noise.sigma2=-1"), "noise.sigma2=-1 must be > 0"),
    BadInput("sigma2-infinite", "out of range", ("noise=fixed", "noise.sigma2=inf"), "noise.sigma2=inf must be > 0 and finite"),
    BadInput("sigma2-below-float32", "out of range", ("noise=fixed", "noise.sigma2=1e-50"),
             "noise.sigma2=1e-50 must be between 1.2e-38 and 3.4e+38 (float32, in which training computes by default, holds no other)"),
    BadInput("anneal-start-infinite", "out of range", ("noise=anneal", "noise.start=inf"),
             "noise.start=inf must be > min_sigma2=1e-06 and finite"),
    BadInput("eps-high-infinite", "out of range", ("eval.eps_high=inf",), "eval.eps_high=inf must be finite"),
    BadInput("eps-zero", "out of range", ("eval.eps=0",), "eval.eps=0 must be > 0 and finite"),
    BadInput("eps-inf", "out of range", ("eval.eps=inf",), "eval.eps=inf must be > 0 and finite"),
    BadInput("latent-above-data", "out of range", ("model.latent_dim=21",),
             "model.latent_dim=21 must be between 1 and the data dimension 20"),
    BadInput("deep-hidden-empty", "out of range", ("model=deep_vae", "model.hidden=[]"),
             "model.hidden=[] leaves the MLP VAE without hidden layers; for a linear VAE use model=linear_vae"),
    BadInput("conv-on-flat-data", "out of range", ("model=conv_vae",),
             "model: a convolutional model needs images (channels, height, width); this dataset's samples are 20 values"),
    BadInput("steps-negative", "out of range", ("trainer.max_steps=-5",),
             "trainer.max_steps=-5: must be a non-negative integer or -1"),
    BadInput("name-leaves-outputs", "out of range", ("name=../../elsewhere",),
             "name=../../elsewhere: a name makes the folder outputs/<name>/ (multirun/<name>/ for a sweep) and may "
             "not leave it"),
    BadInput("name-empty", "missing value", ("name=",), "name= is empty: give the experiment a name"),
    BadInput("resume-empty", "missing value", ("resume=",), "resume= is empty: give a run folder or a .ckpt file"),
    BadInput("log-every-zero", "out of range", ("trainer.log_every_n_steps=0",),
             "trainer.log_every_n_steps=0: must be an integer >= 1"),
    BadInput("precision-16-true", "out of range", ("trainer.precision=16-true",),
             "trainer.precision=16-true holds the weights in float16, where Adam's eps (1e-8) rounds to 0"),
    BadInput("precision-bf16-true-linear", "out of range", ("trainer.precision=bf16-true",),
             "trainer.precision=bf16-true: the linear models' exact log p(x) and closed forms need a Cholesky"),
    BadInput("accelerator-needs-package", "out of range", ("trainer.accelerator=tpu",),
             "(a package that trainer.accelerator=tpu needs)"),
    BadInput("checkpoint-every-negative", "out of range", ("checkpoint.every_n_steps=-1",),
             "checkpoint.every_n_steps=-1 must be >= 0"),
    BadInput("n-train-zero", "out of range", ("dataset.n_train=0",), "dataset.n_train=0: must be at least 1"),
    BadInput("delta-above-one", "out of range", ("eval.delta=1.5",), "eval.delta=1.5 must be in [0, 1)"),
    BadInput("residual-examples-negative", "out of range", ("eval.residual_examples=-1",),
             "eval.residual_examples=-1 must be >= 0 or null"),
    BadInput("value-left-missing", "missing value", ("noise=fixed", "noise.sigma2=???"),
             "noise.sigma2: has no value (??? in the config); give one with noise.sigma2=..."),
    BadInput("wandb-mode", "out of range", ("logger=wandb", "logger.wandb.mode=sometimes"),
             "logger.wandb.mode='sometimes': expected 'offline' | 'online' | 'disabled'"),
    BadInput("lr-negative", "out of range", ("optimizer.lr=-1",), "optimizer.lr=-1: Invalid learning rate: -1"),
    BadInput("lr-zero", "out of range", ("optimizer.lr=0",), "optimizer.lr=0 must be > 0"),
    BadInput("lr-not-a-number", "wrong type", ("optimizer.lr=fast",), "optimizer.lr='fast': expected float"),
    BadInput("adam-betas-length", "wrong type", ("+optimizer.betas=[0.9]",),
             "optimizer.betas=[0.9]: expected 2 values, like the default [0.9, 0.999]"),
    BadInput("adam-beta-out-of-range", "out of range", ("+optimizer.betas=[0.9,1.5]",),
             "optimizer.betas=[0.9, 1.5]: Invalid beta parameter at index 1: 1.5"),
    BadInput("lr-decay-negative", "out of range", ("lr_scheduler=constant_then_cosine", "lr_scheduler.decay_steps=-1"),
             "lr_scheduler.decay_steps=-1 must be >= 0"),
    BadInput("cosine-with-epochs", "out of range", ("lr_scheduler=cosine", "trainer.max_steps=-1", "trainer.max_epochs=2"),
             "lr_scheduler.T_max=-1 must be >= 1 (by default it is trainer.max_steps; in a run bounded by "
             "trainer.max_epochs give lr_scheduler.T_max=<steps>)"),
    BadInput("unknown-key", "unknown key", ("+noise.colour=red",), "noise.colour: unknown key for LearnedNoise"),
    BadInput("unknown-top-level-key", "unknown key", ("+learning_rate=0.1",),
             "learning_rate: unknown top-level key; valid keys:"),
    BadInput("unknown-group-option", "unknown group option", ("model=nope",),
             "Could not find 'model/nope'; Available options in 'model':"),
    BadInput("unknown-launcher", "unknown group option", ("hydra/launcher=nope",),
             "Could not find 'hydra/launcher/nope'"),
    BadInput("group-set-to-null", "unknown group option", ("noise=null",),
             "Config group override must be a string or a list. Got NoneType (to drop a config group, write ~group"),
    BadInput("override-missing-key", "override of a missing key without +", ("noise.colour=red",),
             "cannot override noise.colour: noise=learned has no key colour (its keys: init, min_sigma2, lr_scale); "
             "to add a new key write +noise.colour=red"),
    BadInput("key-of-another-option", "override of a missing key without +", ("noise.sigma2=0.5",),
             "cannot override noise.sigma2: noise=learned has no key sigma2 (its keys: init, min_sigma2, lr_scale); "
             "sigma2 is a key of noise=fixed (select it first)"),
    BadInput("key-of-an-unselected-logger", "override of a missing key without +", ("logger=csv", "logger.wandb.mode=offline"),
             "cannot override logger.wandb.mode: logger=csv has no key wandb (its keys: csv); "
             "wandb is a key of logger=wandb (select it first)"),
    BadInput("data-cache-empty", "out of range", ("dataset=mnist", "dataset.cache_dir="),
             "dataset.cache_dir='' must name a folder"),
    BadInput("dataset-folder-missing", "missing dataset file", ("dataset=celeba", "dataset.root={tmp}/no-celeba"),
             "CelebA images not found in {tmp}/no-celeba"),
    BadInput("dataset-file-corrupt", "corrupt dataset file",
             ("dataset=mnist", "dataset.subset=10", "model.latent_dim=3"),
             "train-images-idx3-ubyte", setup="corrupt_idx", env={"VAE_COLLAPSE_DATA": "{tmp}/data"}),
    BadInput("resume-another-model", "checkpoint from another model", ("resume={base}", "model.latent_dim=4"),
             "continues a run with model.latent_dim=3; a resumed run can only change"),
    BadInput("resume-foreign-checkpoint", "checkpoint from another model", ("resume={tmp}/foreign.ckpt",),
             "foreign.ckpt is not a vae-collapse checkpoint", setup="foreign_ckpt"),
    BadInput("resume-corrupt-checkpoint", "corrupt checkpoint", ("resume={tmp}/junk.ckpt",),
             "junk.ckpt is not a readable checkpoint", setup="junk_ckpt"),
    BadInput("resume-nothing-there", "missing checkpoint", ("resume={tmp}/never-ran",),
             "no checkpoint at {tmp}/never-ran/checkpoints/last.ckpt"),
    BadInput("folder-holds-another-run", "output folder holds another run", ("model.latent_dim=2",),
             "already holds another run (model.latent_dim=3 there, 2 here)"),
    BadInput("folder-holds-other-files", "output folder holds other files", ("hydra.run.dir={tmp}/mine",),
             "hydra.run.dir={tmp}/mine holds files that are not a run's (notes.txt)", setup="foreign_folder"),
    BadInput("sweep-into-a-run", "output folder holds another run", ("-m", "seed=0,1", "hydra.sweep.dir={run}"),
             "hydra.sweep.dir={run}: is a run's folder"),
    BadInput("output-unwritable", "unwritable output folder", ("hydra.run.dir={run}/summary.json/sub",),
             "cannot write {run}/summary.json/sub (Not a directory)"),
    BadInput("output-cannot-be-made", "unwritable output folder", ("hydra.run.dir=/proc/vae-collapse/run",),
             "cannot write /proc/vae-collapse (No such file or directory)"),
    BadInput("em-with-lr-schedule", "options that do not go together", ("optimizer=em", "lr_scheduler=cosine"),
             "lr_scheduler: optimizer=em takes no learning rate; drop the schedule with ~lr_scheduler"),
    BadInput("em-minibatches", "options that do not go together", ("optimizer=em", "dataset.batch_size=100"),
             "optimizer=em needs model=linear_vae with encoder=linear and elbo=analytic"),
    BadInput("nested-option-as-value", "unknown group option", ("noise=kl_anneal", "noise.base=learned"),
             "noise.base='learned' is a name, not a config node (of type ObservationNoise); choose an option of its group "
             "with noise/base=learned"),
    BadInput("ppca-with-a-schedule", "options that do not go together", ("model=ppca", "noise=anneal"),
             "model.fit='closed_form' (model=ppca) needs noise=fixed or noise=learned, not AnnealedNoise"),
    BadInput("budget-of-other-data", "options that do not go together", ("budget=gpu_celeba",),
             "budget=gpu_celeba sizes a run on celeba data, and this run's data set is dataset=synthetic_ppca"),
    BadInput("sweep-range-unclosed", "malformed sweep range", ("-m", "model.latent_dim=range(1,"),
             "cannot parse the override 'model.latent_dim=range(1,'"),
    BadInput("sweep-range-not-numbers", "malformed sweep range", ("-m", "model.latent_dim=range(a,b)"),
             "range(a,b)"),
    BadInput("sweep-same-job-twice", "a sweep with a bad value", ("-m", "noise=fixed", "noise.sigma2=1,2,1.0"),
             "1 of the sweep's 3 jobs would be refused, so none was started: the same config as job noise.sigma2=1 "
             "(a value listed twice, or spelled twice as 1 and 1.0)"),
    BadInput("sweep-bad-value-in-a-later-job", "a sweep with a bad value", ("-m", "noise=fixed", "noise.sigma2=0.5,-1"),
             "1 of the sweep's 2 jobs would be refused, so none was started: noise.sigma2=-1 must be > 0"),
)


# Each row is a process that imports torch and Lightning (~5 s of CPU); these run in the default
# suite (one or more per kind of bad input), all of them with `-m slow` too.
DEFAULT_ROWS = frozenset({
    "eps-inf", "latent-above-data", "lr-negative", "steps-negative", "unknown-key", "unknown-group-option", "unknown-launcher",
    "key-of-another-option", "dataset-file-corrupt", "resume-another-model", "folder-holds-another-run",
    "folder-holds-other-files",
    "output-unwritable", "sweep-range-unclosed", "em-minibatches", "wandb-unknown-key", "seed-negative",
    "name-leaves-outputs", "sweep-same-job-twice", "adam-betas-length",
})
assert DEFAULT_ROWS <= {row.id for row in ROWS}


def markdown() -> str:
    lines = [
        "# Bad input: what the console script says",
        "",
        "Every row is a test (`tests/framework/test_bad_inputs.py`, generated from",
        "`tests/framework/bad_input_table.py`). Each command exits with status 1 and prints exactly one",
        "line on stderr, `vae-collapse: error: ...`, that names the key, value or file and what would be",
        "valid; no traceback. Each leaves an earlier run in the output folder untouched: its",
        "`summary.json`, `.hydra/`, checkpoints, CSVs and figures stay byte-identical (the error line is",
        "added to the end of `cli.log`).",
        "",
        f"Every command also has the quick-run arguments `{' '.join(QUICK)}` before the ones shown,",
        "and `hydra.run.dir=<a folder holding a completed run>`. `<run>` is that folder, `<base>` another",
        "completed run, `<tmp>` a scratch folder.",
        "",
        "| # | bad input | arguments | the error line contains |",
        "|---|---|---|---|",
    ]
    for number, row in enumerate(ROWS, 1):
        args = " ".join(row.args).replace("{run}", "<run>").replace("{base}", "<base>").replace("{tmp}", "<tmp>")
        error = row.error.replace("{run}", "<run>").replace("{tmp}", "<tmp>").replace("|", "\\|")
        note = {"corrupt_idx": " (a truncated IDX file in the data folder)",
                "junk_ckpt": " (a file of random bytes)",
                "foreign_ckpt": " (a torch file that is not from vae-collapse)"}.get(row.setup or "", "")
        args = args.replace("|", "\\|")
        lines.append(f"| {number} | {row.kind}{note} | `{args}` | {error} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
