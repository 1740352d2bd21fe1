"""Dataset engine: scan, prepare, captions, watch. Knows nothing of the UI."""
