"""The area map of the city wall: tiles at relative positions, read from a JSON file we ship.

Schools carry a free-text ``area`` ("Quận 1", "Q.1", "Thành phố Thủ Đức"); ``AreaMap.tile_of``
finds its tile by the tile's id, names and aliases, without case, diacritics or punctuation.
An area the map does not know goes to the map's "other" tile: it is shown, never dropped.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hub.services.people.rows import fold

STATIC_DIR = Path(__file__).resolve().parent / "static"
#: The shipped map: Ho Chi Minh City's former districts (before the 2025 reorganisation).
DEFAULT_AREA_MAP = "areas-hcmc"

_Name = Annotated[str, Field(min_length=1, max_length=100)]
_TileId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]


class AreaMapError(ValueError):
    """A map file that is missing or not a valid area map; the text says which and why."""


class Tile(BaseModel):
    """One area's tile: its id, Vietnamese and English names, grid cell and other spellings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: _TileId
    vi: _Name
    en: _Name
    col: Annotated[int, Field(ge=0, le=99)]
    row: Annotated[int, Field(ge=0, le=99)]
    aliases: tuple[_Name, ...] = ()


class Caption(BaseModel):
    """A text in both languages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vi: str
    en: str


class AreaMap(BaseModel):
    """A schematic tile map (a cartogram): every area one tile on a ``columns`` x ``rows`` grid."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: _TileId
    title: Caption
    note: Caption | None = None
    columns: Annotated[int, Field(ge=1, le=100)]
    rows: Annotated[int, Field(ge=1, le=100)]
    other: Tile
    areas: Annotated[tuple[Tile, ...], Field(min_length=1, max_length=2000)]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        seen_ids: set[str] = set()
        cells: dict[tuple[int, int], str] = {}
        for tile in (*self.areas, self.other):
            if tile.id in seen_ids:
                raise ValueError(f"tile id {tile.id!r} appears twice")
            seen_ids.add(tile.id)
            if tile.col >= self.columns or tile.row >= self.rows:
                raise ValueError(f"tile {tile.id!r} lies outside the {self.columns}x{self.rows} grid")
            cell = (tile.col, tile.row)
            if cell in cells:
                raise ValueError(f"tiles {cells[cell]!r} and {tile.id!r} share a cell")
            cells[cell] = tile.id
        names: dict[str, str] = {}
        for tile in self.areas:
            for name in {fold(n) for n in (tile.id, tile.vi, tile.en, *tile.aliases)}:
                if names.setdefault(name, tile.id) != tile.id:
                    raise ValueError(f"name {name!r} belongs to {names[name]!r} and {tile.id!r}")
        return self

    @functools.cached_property
    def _by_name(self) -> dict[str, str]:
        return {fold(name): tile.id for tile in self.areas
                for name in (tile.id, tile.vi, tile.en, *tile.aliases)}

    def tile_of(self, area: str) -> str:
        """The id of the tile a school's ``area`` belongs to; the "other" tile when unknown."""
        return self._by_name.get(fold(area), self.other.id)


def map_path(name: str) -> Path:
    """The file of a map setting: a shipped map by name (``areas-hcmc``) or a path to a file."""
    if "/" not in name and not name.endswith(".json"):
        return STATIC_DIR / f"{name}.json"
    return Path(name)


@functools.lru_cache(maxsize=8)
def load_area_map(name: str = DEFAULT_AREA_MAP) -> AreaMap:
    """Read and check the map ``name`` (see ``map_path``); raise AreaMapError saying why not."""
    path = map_path(name)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise AreaMapError(f"area map {path} cannot be read: {error.strerror}") from None
    except ValueError as error:
        raise AreaMapError(f"area map {path} is not JSON: {error}") from None
    try:
        return AreaMap.model_validate(raw)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "map"
        raise AreaMapError(f"area map {path}: {where}: {first['msg']}") from None
