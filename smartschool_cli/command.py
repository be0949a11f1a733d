"""``smartschool command send``: send a command to an edge through the hub's API, then wait for
the edge's answer and print it.

Exit status: 0 when the edge carried the command out, 1 when it refused, failed or did not
answer in time, 2 when the hub refused the request or could not be reached.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:  # httpx comes with the hub's tools, not with an edge box's install
    import httpx

command_app = typer.Typer(
    help="Commands to edge boxes (reboot, identify, ...). / Gửi lệnh tới hộp điều khiển.",
    no_args_is_help=True,
)

#: Polling interval while the command is ``sent``.
POLL_S = 0.25
#: Past its deadline, the hub's sweeper marks a command timed out within a second or so.
SWEEP_SLACK_S = 5.0


class CommandFailed(Exception):
    """The hub answered with an error, or could not be reached; the text says which."""


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, dict) and "en" in detail:
        return f"{detail.get('vi', '')} / {detail['en']}"
    return f"HTTP {response.status_code}: {response.text[:200]}"


def send_and_wait(client: httpx.Client, school: str, edge: str, cmd: str,
                  args: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """POST the command, then poll its record until it is no longer ``sent``; the record."""
    import httpx

    try:
        response = client.post(f"/api/v1/edges/{school}/{edge}/commands",
                               json={"cmd": cmd, "args": args, "timeout_s": timeout_s})
        if response.status_code != 202:
            raise CommandFailed(_error_text(response))
        record: dict[str, Any] = response.json()
        give_up = time.monotonic() + timeout_s + SWEEP_SLACK_S
        while record["state"] == "sent" and time.monotonic() < give_up:
            time.sleep(POLL_S)
            response = client.get(f"/api/v1/commands/{record['id']}")
            if response.status_code != 200:
                raise CommandFailed(_error_text(response))
            record = response.json()
    except httpx.HTTPError as error:
        raise CommandFailed(f"Không kết nối được hub / cannot reach the hub: {error}") from None
    return record


def record_table(record: dict[str, Any]) -> Table:
    """The command's record as a two-column table."""
    colour = {True: "green", False: "red", None: "yellow"}[record["ok"]]
    table = Table(show_header=False, title=f"Lệnh / command {record['cmd']}")
    table.add_column(style="bold")
    table.add_column()
    msg = record["msg"]
    code = record["code"] or "—"
    if msg:
        code = f"{code}  {msg['vi']} / {msg['en']}"
    rows = [
        ("id", Text(record["id"])),
        ("edge", Text(f"{record['school']}/{record['edge']}")),
        ("state", Text(record["state"], style=colour)),
        ("code", Text(code)),
        # Text, not markup: what an edge sends back may hold square brackets.
        ("data", Text(json.dumps(record["data"], ensure_ascii=False) if record["data"] else "—")),
        ("sent by", Text(f"{record['sent_by']['subject']} ({record['sent_by']['role']})")),
        ("sent at", Text(record["sent_at"])),
        ("acked at", Text(record["acked_at"] or "—")),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


@command_app.command("send")
def send(
    school: Annotated[str, typer.Argument(help="School id, e.g. thpt-nguyen-du.")],
    edge: Annotated[str, typer.Argument(help="Edge id, e.g. p-10a1.")],
    cmd: Annotated[str, typer.Argument(help="reboot, reload, identify, sync or board.power.")],
    hub: Annotated[str, typer.Option(envvar="SS_HUB_URL", help="The hub, e.g. http://hub:8080.")],
    token: Annotated[str, typer.Option(envvar="SS_TOKEN", help="An admin or technician token.")],
    args: Annotated[str, typer.Option("--args", help='Arguments as JSON, e.g. \'{"on": true}\'.')
                    ] = "{}",
    timeout: Annotated[float, typer.Option(min=1, max=600, help="Seconds the edge has to answer.")
                       ] = 10.0,
) -> None:
    """Send a command to an edge and print its answer (gửi lệnh và chờ phản hồi)."""
    console = Console()
    try:
        parsed = json.loads(args)
    except ValueError as error:
        console.print(f"--args không phải JSON / --args is not JSON: {error}", style="red",
                      markup=False)
        raise typer.Exit(2) from None
    if not isinstance(parsed, dict):
        console.print("[red]--args phải là một đối tượng JSON / --args must be a JSON object[/]")
        raise typer.Exit(2)
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=hub.rstrip("/"), headers=headers, timeout=10) as client:
        try:
            record = send_and_wait(client, school, edge, cmd, parsed, timeout)
        except CommandFailed as error:
            console.print(str(error), style="red", markup=False)
            raise typer.Exit(2) from None
    console.print(record_table(record))
    raise typer.Exit(0 if record["ok"] else 1)
