"""Dialogs, one per file: exporting the current sound, the app's settings."""
