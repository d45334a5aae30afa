"""Template filters: numbers, parsed targets, regions and kinds the way the pages show them."""

from __future__ import annotations

from flask import Flask

from webapp.compare import CHANGE_LABELS
from webapp.facets import KIND_LABELS, LABELS
from webapp.openapi import schema_summary

OPS = {">=": "≥", "<=": "≤", ">": "＞", "<": "＜", "=": "＝"}


def number(value: float | int | None) -> str:
    """``0.5`` → ``0.5``, ``260.0`` → ``260``, ``12345.678`` → ``12345.68``; None → ``—``."""
    if value is None:
        return "—"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:.6g}" if abs(value) < 1e6 else f"{value:,.0f}"


def parsed_target(indicator: dict | None) -> str:
    """The parsed target in symbols: ``≤ 350 元``, ``95–100 %``, ``降幅 ＝ 5 %`` for a change
    (同比下降5%); empty when not numeric."""
    if not indicator or not indicator.get("op"):
        return ""
    op, low, high = indicator["op"], indicator.get("low"), indicator.get("high")
    unit = indicator.get("unit") or ""
    if op == "range":
        text = f"{number(low)}–{number(high)}"
    elif op in (">=", ">"):
        text = f"{OPS[op]} {number(low)}"
    elif op in ("<=", "<"):
        text = f"{OPS[op]} {number(high)}"
    else:
        text = f"{OPS.get(op, op)} {number(low)}"
    change = CHANGE_LABELS.get(indicator.get("change") or "")
    return " ".join(x for x in (change, text, unit) if x)


def region(doc: dict) -> str:
    """``河北省 › 邢台市 › 临西县`` (a municipality's name once)."""
    parts = [doc.get("province"), doc.get("city"), doc.get("county")]
    return " › ".join(dict.fromkeys(p for p in parts if p))


def install(app: Flask) -> None:
    """Register the filters and the labels every template can use."""
    app.add_template_filter(number, "number")
    app.add_template_filter(parsed_target, "parsed_target")
    app.add_template_filter(region, "region")
    app.add_template_filter(lambda kind: KIND_LABELS.get(kind, kind), "kind_label")
    app.add_template_filter(schema_summary, "schema_summary")

    @app.context_processor
    def _labels() -> dict:
        return {"FIELD_LABELS": LABELS, "KIND_LABELS": KIND_LABELS}
