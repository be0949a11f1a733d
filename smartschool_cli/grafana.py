"""``smartschool grafana push``: install the datasource and dashboards through grafana-client."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console

log = logging.getLogger(__name__)

#: Same uid as dashboards/panels.py and dashboards/provisioning/datasources/influxdb.yaml.
DATASOURCE_UID = "smartschool-influx"
DATASOURCE_NAME = "Smartschool InfluxDB"
FOLDER_UID = "smartschool"
FOLDER_TITLE = "Smartschool"
#: The generated dashboards, in a source tree or an editable install.
DEFAULT_DIR = Path(__file__).resolve().parents[1] / "dashboards" / "json"

# Exit codes from sysexits.h, like ``smartschool edge`` (78 = configuration error).
EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_NOINPUT = 66
EXIT_UNAVAILABLE = 69
EXIT_NOPERM = 77

T = TypeVar("T")


class PushError(RuntimeError):
    """A push that could not finish; ``vi`` and ``en`` say why, ``exit_code`` for the shell."""

    def __init__(self, vi: str, en: str, exit_code: int) -> None:
        super().__init__(f"{vi} / {en}")
        self.vi = vi
        self.en = en
        self.exit_code = exit_code


@dataclass
class PushResult:
    """What a push changed."""

    folder_created: bool = False
    datasource_created: bool = False
    dashboards: list[str] = field(default_factory=list)


def datasource_payload(influx_url: str, influx_db: str) -> dict[str, Any]:
    """The InfluxQL datasource as Grafana's ``POST /api/datasources`` takes it."""
    return {
        "name": DATASOURCE_NAME, "uid": DATASOURCE_UID, "type": "influxdb", "access": "proxy",
        "url": influx_url, "database": influx_db, "isDefault": False,
        "jsonData": {"version": "InfluxQL", "dbName": influx_db, "httpMode": "GET",
                     "timeInterval": "10s"},
    }


def load_dashboards(directory: Path) -> list[dict[str, Any]]:
    """Every ``*.json`` dashboard in ``directory``, sorted by file name."""
    paths = sorted(directory.glob("*.json"))
    if not paths:
        raise PushError(f"Không có bảng điều khiển nào trong {directory}",
                        f"no dashboards in {directory}", EXIT_NOINPUT)
    boards = []
    for path in paths:
        try:
            board = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise PushError(f"Không đọc được {path}: {error}", f"cannot read {path}: {error}",
                            EXIT_NOINPUT) from error
        if not isinstance(board, dict) or not board.get("uid"):
            raise PushError(f"{path} không có uid", f"{path} has no uid", EXIT_NOINPUT)
        boards.append(board)
    return boards


def _call(url: str, action: Callable[[], T]) -> T:
    """Run one grafana-client call, turning its errors into a PushError people can act on."""
    import niquests
    from grafana_client.client import GrafanaClientError, GrafanaException

    try:
        return action()
    except GrafanaClientError as error:
        if error.status_code == 401:
            raise PushError(
                f"Grafana từ chối token (401) tại {url}: token sai hoặc đã hết hạn",
                f"Grafana refused the token (401) at {url}: wrong or expired token",
                EXIT_NOPERM) from error
        if error.status_code == 403:
            raise PushError(
                f"Token không đủ quyền (403) tại {url}: cần service account vai trò Admin "
                f"hoặc Editor có quyền tạo datasource: {error.message}",
                f"The token lacks permission (403) at {url}: use an Admin service account "
                f"(or an Editor allowed to create datasources): {error.message}",
                EXIT_NOPERM) from error
        raise
    except niquests.exceptions.RequestException as error:
        raise PushError(f"Không kết nối được Grafana tại {url}: {error}",
                        f"cannot reach Grafana at {url}: {error}", EXIT_UNAVAILABLE) from error
    except GrafanaException as error:
        if error.status_code == 0:  # timeouts and transport errors the client wrapped
            raise PushError(f"Không kết nối được Grafana tại {url}: {error.message}",
                            f"cannot reach Grafana at {url}: {error.message}",
                            EXIT_UNAVAILABLE) from error
        raise


def _missing(error: Exception) -> bool:
    return getattr(error, "status_code", None) == 404


def push(url: str, token: str, *, influx_url: str | None, influx_db: str,
         directory: Path = DEFAULT_DIR, timeout: float = 10.0) -> PushResult:
    """Create the folder and datasource when missing, then import every dashboard over
    older versions. Raises PushError."""
    from grafana_client import GrafanaApi
    from grafana_client.client import GrafanaClientError

    boards = load_dashboards(directory)
    api = GrafanaApi.from_url(url, credential=token, timeout=timeout)
    result = PushResult()
    try:
        _call(url, lambda: api.folder.get_folder(FOLDER_UID))
    except GrafanaClientError as error:
        if not _missing(error):
            raise
        _call(url, lambda: api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID))
        result.folder_created = True
    try:
        _call(url, lambda: api.datasource.get_datasource_by_uid(DATASOURCE_UID))
    except GrafanaClientError as error:
        if not _missing(error):
            raise
        if not influx_url:
            raise PushError(
                "Grafana chưa có datasource smartschool-influx: hãy đặt --influx-url hoặc "
                "SS_INFLUX_URL", "Grafana has no smartschool-influx datasource yet: set "
                "--influx-url or SS_INFLUX_URL", EXIT_USAGE) from error
        payload = datasource_payload(influx_url, influx_db)
        _call(url, lambda: api.datasource.create_datasource(payload))
        result.datasource_created = True
    for board in boards:
        # No numeric id: Grafana matches on uid, and overwrite replaces any older version.
        body = {"dashboard": {**board, "id": None}, "folderUid": FOLDER_UID, "overwrite": True,
                "message": "smartschool grafana push"}
        _call(url, partial(api.dashboard.update_dashboard, body))
        log.info("dashboard %s pushed", board["uid"])
        result.dashboards.append(board["uid"])
    return result


def run_push(url: str | None, token: str | None, *, influx_url: str | None, influx_db: str,
             directory: Path | None, console: Console) -> int:
    """The command: push and print the outcome in Vietnamese and English; the exit code."""
    from grafana_client.client import GrafanaException

    if not url or not token:
        console.print("[red]Cần --url và --token (hoặc SS_GRAFANA_URL, SS_GRAFANA_TOKEN) / "
                      "--url and --token (or SS_GRAFANA_URL, SS_GRAFANA_TOKEN) are required[/]")
        return EXIT_USAGE
    try:
        result = push(url, token, influx_url=influx_url, influx_db=influx_db,
                      directory=directory or DEFAULT_DIR)
    except PushError as error:
        console.print(f"[red]{error.vi}[/]\n[red]{error.en}[/]", highlight=False)
        return error.exit_code
    except GrafanaException as error:
        console.print(f"[red]Grafana báo lỗi / Grafana answered an error: {error.message}[/]",
                      highlight=False)
        return EXIT_FAILED
    if result.folder_created:
        console.print(f"Đã tạo thư mục / folder created: {FOLDER_TITLE}")
    if result.datasource_created:
        console.print(f"Đã tạo datasource / datasource created: {DATASOURCE_UID}")
    console.print(f"Đã cài {len(result.dashboards)} bảng điều khiển / dashboards installed: "
                  + ", ".join(result.dashboards), highlight=False)
    return 0
