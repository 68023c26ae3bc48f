"""Data: preprocessing into a fast face cache, splits, emotion pairing, training samples."""
