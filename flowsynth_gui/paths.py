"""Where the project's data files live (the repository's top-level folders)."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESOURCES_DIR = PROJECT_ROOT / "resources"
CHECKPOINTS_DIR = PROJECT_ROOT / "checkpoints"
DEFAULT_MODEL = CHECKPOINTS_DIR / "flowsynth_flow_dis_32.pt"  # the shipped model
DEFAULT_POSTERIOR = CHECKPOINTS_DIR / "flowsynth_posterior_32.pt"  # p(parameters | sound)
