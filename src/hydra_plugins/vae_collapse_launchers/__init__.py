"""vae-collapse's Hydra launchers. Hydra takes launchers only from the ``hydra_plugins`` namespace
package, and imports every module in it at start-up, so these modules import little."""

import warnings


def quiet_schema_warnings() -> None:
    """The launcher configs in conf/hydra/launcher/ replace the plugins' entries of the same name,
    which Hydra 1.3 calls deprecated in four lines at every use: nothing a user can change."""
    warnings.filterwarnings("ignore", message=r"\s*'hydra/launcher/(submitit_\w+|joblib)' is validated against ConfigStore")
