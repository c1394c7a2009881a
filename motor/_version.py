"""Motor's version, in one place (pyproject.toml reads it from here)."""

version_tuple: tuple[int | str, ...] = (4, 0, 0, "dev0")
version = "4.0.0.dev0"
