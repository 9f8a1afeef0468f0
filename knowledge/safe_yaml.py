"""YAML from documents and access files, bounded: anyone who can write in a source folder can write
these, so a file may not be large, nested deeply, or use aliases (a "billion laughs" bomb expands a
few lines into gigabytes). Every problem is a ``YAMLLimit`` with a short reason."""

from __future__ import annotations

from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

__all__ = ["MAX_YAML_BYTES", "MAX_YAML_DEPTH", "BoundedYAMLHandler", "YAMLLimit", "load_bounded"]

#: An access file or a front-matter block larger than this is refused.
MAX_YAML_BYTES = 64 * 1024
#: Mappings and lists nested deeper than this are refused.
MAX_YAML_DEPTH = 16


class YAMLLimit(ValueError):
    """YAML that is too large, too deep, uses aliases, or is not YAML; the message is short."""


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and deep nesting while composing (before anything expands)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise YAMLLimit("aliases are not allowed")
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise YAMLLimit(f"nested deeper than {MAX_YAML_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_bounded(text: str, max_bytes: int = MAX_YAML_BYTES) -> object:
    """Parse ``text`` as YAML within the limits (``max_bytes`` of UTF-8, no aliases, bounded depth);
    YAMLLimit with a short reason otherwise."""
    if len(text.encode("utf-8")) > max_bytes:
        raise YAMLLimit(f"larger than {max_bytes // 1024} KiB")
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    except YAMLLimit:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise YAMLLimit(f"not valid YAML{where}") from exc
    except RecursionError as exc:  # defence in depth: the depth check should come first
        raise YAMLLimit("nested too deeply") from exc
    finally:
        loader.dispose()


class BoundedYAMLHandler(YAMLHandler):
    """python-frontmatter's YAML handler, loading front matter within the same limits."""

    def load(self, fm: str, **kwargs: object) -> Any:
        """The front matter block as data (anything YAML holds; the caller checks it is a mapping)."""
        return load_bounded(fm)
