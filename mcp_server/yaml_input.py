"""YAML parsing with bounds: a size cap, a cap on what aliases may add (an alias bomb of ~500 bytes expands to
hundreds of millions of nodes for whoever walks or serialises it) and no unbounded nesting."""

from __future__ import annotations

from typing import Any

import yaml

MAX_INPUT_BYTES = 3 * 1024 * 1024
# Aliases may add this many nodes beyond the document's own; kubectl/helm output has no aliases at all.
MAX_ALIAS_NODES = 10_000
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_VISITING = -1


class YamlRefused(ValueError):
    """The text is not YAML we will load: too large, too deep, or aliases that expand too far."""


def load_all(text: str, *, max_bytes: int = MAX_INPUT_BYTES) -> list[Any]:
    """Every document of `text` (None for empty ones); raises `YamlRefused` or `yaml.YAMLError`."""
    if len(text.encode()) > max_bytes:
        raise YamlRefused(f"larger than {max_bytes // (1024 * 1024)} MiB")
    loader = _Loader(text)
    try:
        docs, added = [], 0
        while loader.check_node():
            node = loader.get_node()
            added += _alias_nodes(node)  # the budget is for the whole text, not per document
            if added > MAX_ALIAS_NODES:
                raise YamlRefused(f"aliases expand it by more than {MAX_ALIAS_NODES} nodes")
            docs.append(loader.construct_document(node))
        return docs
    except RecursionError:
        raise YamlRefused("nested too deeply") from None
    finally:
        loader.dispose()


def load(text: str, *, max_bytes: int = MAX_INPUT_BYTES) -> Any:
    """The single document of `text` (None when empty)."""
    docs = load_all(text, max_bytes=max_bytes)
    if len(docs) > 1:
        raise YamlRefused("holds more than one document")
    return docs[0] if docs else None


def _alias_nodes(root: yaml.Node) -> int:
    """How many nodes aliases add for a consumer (each repeats its anchor's subtree), in linear time."""
    size: dict[int, int] = {}  # node id -> expanded size; _VISITING while its subtree is being counted
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, counted = stack.pop()
        if counted:
            size[id(node)] = 1 + sum(size[id(child)] for child in _children(node))
            continue
        if size.get(id(node)) == _VISITING:
            raise YamlRefused("an alias refers to itself")
        if id(node) in size:
            continue
        size[id(node)] = _VISITING
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node))
    return size[id(root)] - len(size)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []
