"""Schools' alert rules in the database: only what differs from the defaults is stored."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.db.alerts import AlertRulesRow
from hub.health.rules import DEFAULT_RULES, AlertRules

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SchoolRules:
    """A school's effective rules, the overrides they come from, and its alert webhook."""

    rules: AlertRules = DEFAULT_RULES
    overrides: dict[str, Any] = field(default_factory=dict)
    webhook_url: str = ""

    def as_dict(self, school: str) -> dict[str, Any]:
        """The API's view: effective rules, the school's own settings, the webhook."""
        return {"school": school, "rules": self.rules.model_dump(mode="json"),
                "overrides": self.overrides, "defaults": DEFAULT_RULES.model_dump(mode="json"),
                "webhook_url": self.webhook_url}


def _from_row(row: AlertRulesRow) -> SchoolRules:
    try:
        overrides = json.loads(row.overrides or "{}")
        return SchoolRules(AlertRules.model_validate(overrides), overrides, row.webhook_url)
    except (ValueError, ValidationError) as error:
        # Stored by an older version or by hand: keep watching with the defaults, say so.
        log.error("alert rules of %s unreadable (%s); using the defaults", row.school, error)
        return SchoolRules(webhook_url=row.webhook_url)


def load_all(engine: Engine) -> dict[str, SchoolRules]:
    """Every school's rules that differ from the defaults (one query)."""
    with Session(engine) as session:
        return {row.school: _from_row(row) for row in session.scalars(select(AlertRulesRow))}


def get_school_rules(session: Session, school: str) -> SchoolRules:
    """A school's rules (the defaults when it set nothing)."""
    row = session.get(AlertRulesRow, school)
    return _from_row(row) if row is not None else SchoolRules()


def put_school_rules(session: Session, school: str, overrides: dict[str, Any],
                     webhook_url: str | None, who: str) -> SchoolRules:
    """Replace a school's overrides (ValidationError if any is wrong); ``webhook_url`` None
    leaves the webhook as it is."""
    rules = AlertRules.model_validate(overrides)
    # Store the validated values, so what is read back is what was checked.
    stored = rules.model_dump(mode="json", include=set(overrides))
    row = session.get(AlertRulesRow, school, with_for_update=True)
    if row is None:
        row = AlertRulesRow(school=school, webhook_url="")
        session.add(row)
    row.overrides = json.dumps(stored, ensure_ascii=False, sort_keys=True)
    if webhook_url is not None:
        row.webhook_url = webhook_url
    row.updated_at, row.updated_by = datetime.now(UTC), who[:100]
    return SchoolRules(rules, stored, row.webhook_url)


_VI = {
    "greater_than_equal": "phải lớn hơn hoặc bằng {ge}",
    "less_than_equal": "phải nhỏ hơn hoặc bằng {le}",
    "int_parsing": "phải là số nguyên",
    "int_from_float": "phải là số nguyên",
    "int_type": "phải là số nguyên",
    "float_parsing": "phải là một số",
    "float_type": "phải là một số",
    "enum": "phải là một trong {expected}",
    "extra_forbidden": "không có thiết lập này",
    "string_pattern_mismatch": "không đúng dạng",
    "string_type": "phải là chuỗi ký tự",
    "tuple_type": "phải là một danh sách",
    "too_long": "quá nhiều phần tử",
    "value_error": "không hợp lệ: {error}",
}


def describe_errors(error: ValidationError, prefix: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """Each problem as ``{"field", "vi", "en"}``: the field named, the reason in both languages."""
    out = []
    for item in error.errors(include_url=False):
        name = ".".join(str(p) for p in (*prefix, *item["loc"])) or "body"
        context = {k: str(v) for k, v in (item.get("ctx") or {}).items()}
        template = _VI.get(item["type"], "không hợp lệ")
        try:
            reason_vi = template.format(**context)
        except KeyError:
            reason_vi = "không hợp lệ"
        out.append({"field": name, "vi": f"{name}: {reason_vi}", "en": f"{name}: {item['msg']}"})
    return out
