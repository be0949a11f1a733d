"""Which measurements, fields and tags a Grafana InfluxQL target names (the subset we generate).

Strict on purpose: a query outside the grammar raises ``Unparsed`` instead of passing unread.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

_IDENT = r'"(?:[^"\\]|\\.)*"'
_FUNCTIONS = r"(?:mean|median|max|min|last|first|count|sum|spread|stddev|distinct|mode)"
_SELECT = re.compile(
    rf"^SELECT (?P<select>.+?) FROM (?P<from>{_IDENT})"
    r"(?: WHERE (?P<where>.+?))?(?: GROUP BY (?P<group>.+?))?(?: fill\((?P<fill>[^)]*)\))?$")
_SHOW = re.compile(
    rf"^SHOW TAG VALUES(?: FROM (?P<from>{_IDENT}))? WITH KEY = (?P<key>{_IDENT})"
    r"(?: WHERE (?P<where>.+))?$")
_CONDITION = re.compile(rf"({_IDENT}) (?:=~|!~|=|!=|<>) (?:/(?:[^/\\]|\\.)*/|'(?:[^'\\]|\\.)*')")


class Unparsed(ValueError):
    """A query this checker does not understand (so it cannot vouch for it)."""


@dataclass
class Names:
    """Names one query uses; ``measurement`` None means any measurement (SHOW without FROM)."""

    measurement: str | None
    fields: set[str] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)


def _unquote(ident: str) -> str:
    return re.sub(r"\\(.)", r"\1", ident[1:-1])


def _where_tags(where: str | None, query: str) -> set[str]:
    if not where:
        return set()
    tags = {_unquote(m[1]) for m in _CONDITION.finditer(where)}
    rest = _CONDITION.sub("", where)
    rest = re.sub(r"\$timeFilter|\bAND\b|\bOR\b|[()\s]", "", rest)
    if rest:
        raise Unparsed(f"WHERE clause not understood ({rest!r}): {query}")
    return tags


def parse(query: str) -> Names:
    """Names in one raw InfluxQL query."""
    query = query.strip()
    if m := _SELECT.match(query):
        select = m["select"]
        fields = {_unquote(i) for i in re.findall(_IDENT, select)}
        rest = re.sub(rf"{_FUNCTIONS}\(|{_IDENT}|[(),\s]", "", select)
        if rest or not fields:
            raise Unparsed(f"SELECT list not understood ({rest!r}): {query}")
        tags = _where_tags(m["where"], query)
        if group := m["group"]:
            tags |= {_unquote(i) for i in re.findall(_IDENT, group)}
            rest = re.sub(rf"time\((?:\$__interval|\d+[smhd])\)|{_IDENT}|[,\s]", "", group)
            if rest:
                raise Unparsed(f"GROUP BY not understood ({rest!r}): {query}")
        return Names(_unquote(m["from"]), fields, tags)
    if m := _SHOW.match(query):
        tags = {_unquote(m["key"])} | _where_tags(m["where"], query)
        return Names(_unquote(m["from"]) if m["from"] else None, set(), tags)
    raise Unparsed(f"not a SELECT or SHOW TAG VALUES this check knows: {query}")


def target_names(target: dict[str, Any]) -> Names:
    """Names of a panel target: its raw ``query``, or the query builder's parts."""
    if target.get("rawQuery", False):
        return parse(target["query"])
    if "measurement" not in target:
        raise Unparsed(f"target has neither a raw query nor a measurement: {target}")
    fields = {part["params"][0] for parts in target.get("select", [])
              for part in parts if part["type"] == "field"}
    tags = {tag["key"] for tag in target.get("tags", [])}
    tags |= {group["params"][0] for group in target.get("groupBy", []) if group["type"] == "tag"}
    return Names(target["measurement"], fields, tags)


def queries(board: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, target) for every panel target and every query variable of a dashboard."""
    for panel in board["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                yield f"{board['uid']} / {inner['title']} / {target['refId']}", target
    for var in board["templating"]["list"]:
        if var["type"] == "query":
            yield (f"{board['uid']} / ${var['name']}",
                   {"refId": var["name"], "rawQuery": True, "query": var["query"]})


@dataclass
class Schema:
    """What a database holds: fields and tag keys per measurement."""

    fields: dict[str, set[str]]
    tags: dict[str, set[str]]


def problems(names: Names, schema: Schema) -> list[str]:
    """Every name in ``names`` the schema does not have (empty when the query is sound)."""
    if names.measurement is None:
        known_tags = set().union(*schema.tags.values()) if schema.tags else set()
        return [f"tag {t!r} not written" for t in sorted(names.tags - known_tags)]
    if names.measurement not in schema.fields:
        return [f"measurement {names.measurement!r} not written"]
    found = [f"field {f!r} not in {names.measurement!r}"
             for f in sorted(names.fields - schema.fields[names.measurement])]
    found += [f"tag {t!r} not in {names.measurement!r}"
              for t in sorted(names.tags - schema.tags[names.measurement])]
    return found
