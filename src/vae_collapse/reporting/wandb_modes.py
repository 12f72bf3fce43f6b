"""W&B's run modes, in one light module: the training loggers and the report's CLI both check them."""

WANDB_MODES = ("offline", "online", "disabled")
