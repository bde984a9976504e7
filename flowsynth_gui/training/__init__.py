"""Training FlowSynth's models: TOML configs and the training loop (imports models, never the
reverse)."""
