"""Answer encodings: JSON (orjson) and RFC 4180 CSV, from the same rows."""

import csv
import io
from collections.abc import Sequence
from typing import Any

import orjson
from starlette.responses import Response

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(payload), status_code=status, media_type="application/json"
    )


def rows_response(
    rows: Sequence[dict[str, Any]], output_format: str, header: Sequence[str], name: str
) -> Response:
    if output_format == "json":
        return json_response(rows)
    return Response(
        csv_text(rows, header),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def csv_text(rows: Sequence[dict[str, Any]], header: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(_csv_value(row[name]) for name in header)
    return buffer.getvalue()


def _csv_value(value: Any) -> Any:
    return "" if value is None else value
