"""The generated world: MEAD-like paired emotional talking-face videos rendered on demand."""
