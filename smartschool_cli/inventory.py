"""``smartschool inventory import FILE``: load the hardware inventory from a CSV or XLSX file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

inventory_app = typer.Typer(
    help="Hardware inventory of edge boxes and devices. / Danh mục thiết bị.",
    no_args_is_help=True,
)

#: Exit codes: every row in; some rows rejected (the good ones are in); the file refused.
EXIT_OK, EXIT_ROWS_REJECTED, EXIT_FILE_REFUSED = 0, 3, 2


@inventory_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="CSV (UTF-8, BOM accepted) or XLSX file.")],
    db_url: Annotated[str, typer.Option(envvar="SS_DB_URL", help="The hub's database URL.")],
) -> None:
    """Import the inventory: one row per box or device (asset tag, model, school, edge, device,
    room, install date, warranty, firmware). Exit 0 when every row is in, 3 when some rows
    were rejected (the others are imported), 2 when the file is refused."""
    from hub.db.engine import make_engine
    from hub.db.migrate import upgrade_to_head
    from hub.health.inventory_import import import_inventory
    from hub.services.people.sheets import ImportFileError

    out = Console()
    if not file.is_file():
        out.print(f"[red]Không tìm thấy tệp / file not found: {file}[/]")
        raise typer.Exit(EXIT_FILE_REFUSED)
    upgrade_to_head(db_url)
    engine = make_engine(db_url)
    try:
        report = import_inventory(engine, file)
    except ImportFileError as error:
        out.print(f"[red]{error.vi} / {error.en}[/]")
        raise typer.Exit(EXIT_FILE_REFUSED) from None
    finally:
        engine.dispose()
    out.print(f"{report.filename}: {report.rows} dòng / rows, {report.created} mới / created, "
              f"{report.updated} cập nhật / updated, {report.unchanged} không đổi / unchanged, "
              f"{report.rejected} bị từ chối / rejected")
    if report.rejections:
        table = Table(title="Dòng bị từ chối / Rejected rows")
        for head in ("Dòng / Row", "Cột / Column", "Lý do", "Reason"):
            table.add_column(head)
        for r in report.rejections:
            table.add_row(str(r.row), r.column, r.vi, r.en)
        out.print(table)
    raise typer.Exit(EXIT_ROWS_REJECTED if report.rejected else EXIT_OK)
