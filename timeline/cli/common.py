"""Options and helpers shared by commands."""

from __future__ import annotations

from pathlib import Path

from timeline.parse.registry import Registry, default_registry
from timeline.pipeline.config import CONFIG_NAME, BuildConfig, load_config


def resolve_config(config: Path | None, inputs: tuple[str, ...]) -> BuildConfig:
    """``--config``, else ``./timeline.toml``, else ``timeline.toml`` in the first input directory."""
    if config is not None:
        return load_config(config)
    candidates = [Path.cwd() / CONFIG_NAME]
    candidates += [Path(i) / CONFIG_NAME for i in inputs if i != "-" and Path(i).is_dir()]
    for candidate in candidates:
        if candidate.is_file():
            return load_config(candidate)
    return BuildConfig()


def registry_for(config: BuildConfig, specs: tuple[Path, ...]) -> Registry:
    """Built-ins, plugins, the config's specs and ``--spec`` files."""
    return default_registry(list(config.specs) + list(specs))
