"""Using a trained model: pitch estimation and sound matching (audio -> preset)."""
