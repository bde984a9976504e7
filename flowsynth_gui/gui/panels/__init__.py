"""The window's panels, one per file. Each emits intent and shows what the session reports."""
