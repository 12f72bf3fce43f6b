"""Lightning glue: the one LightningModule, evaluation passes and run-level callbacks."""
