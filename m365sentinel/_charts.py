"""Charts of a verification report: PNG/SVG through matplotlib (the optional ``charts`` extra) and a compact text
chart for terminals (no dependency).

``write_png(report, path)`` / ``write_svg(report, path)`` draw the source document's data graph: one line each for
incidents, alerts and events (events summed across the declared tables) over the report's window, and, below it,
one line per table (daily volume from Usage, MB). ``text_chart(series)`` renders one series as a bar row.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import InvalidInputError, MissingExtraError
from ._inputs import check_text

if TYPE_CHECKING:
    from ._verify import VerificationReport
    from .models import TimeSeries

__all__ = ["ChartsUnavailableError", "text_chart", "write_png", "write_svg"]

_BLOCKS = "·▁▂▃▄▅▆▇█"  # "·" marks a zero


class ChartsUnavailableError(MissingExtraError):
    """matplotlib is not installed (it is the optional ``charts`` extra)."""


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: never open a window
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ChartsUnavailableError("writing chart files (matplotlib)", "charts", exc.name) from exc
    return plt


def _figure(report: VerificationReport) -> Any:
    plt = _pyplot()
    mdates: Any = importlib.import_module("matplotlib.dates")  # untyped upstream: keep it Any for mypy --strict

    tables = [x for x in report.lines if x.category in ("table", "ueba") and x.series.points]
    rows = 2 if tables else 1
    fig, axes = plt.subplots(rows, 1, figsize=(12, 4.2 * rows), squeeze=False, layout="constrained")
    top = axes[0][0]
    for name, color in (("Incidents", "#d62728"), ("Alerts", "#ff7f0e"), ("Events", "#1f77b4")):
        line = next((x for x in report.lines if x.name == name), None)
        if line is None or not line.series.points:
            continue
        times = [t for t, _ in line.series.points]
        values = [v for _, v in line.series.points]
        top.plot(
            times,
            values,
            marker="o",
            markersize=3,
            linewidth=1.8,
            color=color,
            label=f"{name} ({line.verdict.value}, total {line.series.total:g})",
        )
    top.set_title(f"Microsoft Defender XDR data in Microsoft Sentinel: last {report.days} days")
    top.set_ylabel("Count per day")
    top.set_yscale("symlog", linthresh=10)
    # Incidents (tens a day) and events (thousands) share the axis: label 1-2-5 steps so every line has a tick.
    peak = max(
        (v for line in (report.incidents, report.alerts, report.events) for _, v in line.series.points), default=1
    )
    ticks = [0] + [
        m * 10**e for e in range(0, len(str(int(max(peak, 1)))) + 1) for m in (1, 2, 5) if m * 10**e <= max(peak, 1) * 2
    ]
    top.set_yticks(ticks)
    top.set_yticklabels([f"{t:,}" for t in ticks])
    axes_list = [top]
    if tables:
        bottom = axes[1][0]
        colors = plt.get_cmap("tab10").colors  # ten clearly distinct colours; more tables get dashed then dotted
        for n, line in enumerate(tables):
            bottom.plot(
                [t for t, _ in line.series.points],
                [v for _, v in line.series.points],
                linewidth=1.4,
                color=colors[n % len(colors)],
                linestyle=("-", "--", ":")[(n // len(colors)) % 3],
                label=f"{line.name} ({line.verdict.value})",
            )
        bottom.set_title("Ingestion per table (Usage)")
        bottom.set_ylabel("MB per day")
        axes_list.append(bottom)
    for ax in axes_list:
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_locator(mdates.DayLocator(interval=max(1, report.days // 7)))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))
        ax.set_xlabel("Day (UTC, bins ending now)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    return fig


def _write(report: VerificationReport, path: str | os.PathLike[str], fmt: str) -> Path:
    from ._verify import VerificationReport

    _pyplot()  # without the extra, that is the first thing to fix, whatever the arguments
    if not isinstance(report, VerificationReport):
        raise InvalidInputError(f"report must be a VerificationReport (from Connector.verify()), got {report!r}")
    if not isinstance(path, str | os.PathLike):
        raise InvalidInputError(f"path must be a file path (str or os.PathLike), got {path!r}")
    target = Path(check_text(os.fspath(path), "path", expected=f"a file path ending in .{fmt}"))
    if target.suffix.lower() != f".{fmt}":
        raise InvalidInputError(f"path must end with .{fmt}, got {str(path)!r}")
    if not target.parent.is_dir():  # checked before drawing: matplotlib would fail late, with a bare OSError
        raise InvalidInputError(f"path {str(path)!r}: expected a file in an existing directory")
    fig = _figure(report)
    try:
        # Fixed metadata keeps output reproducible (no creation date or software version in the file).
        meta: dict[str, Any] = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
        fig.savefig(target, format=fmt, dpi=110, metadata=meta)
    finally:
        _pyplot().close(fig)
    return target


def write_png(report: VerificationReport, path: str | os.PathLike[str]) -> Path:
    """Write the report's chart as PNG; returns the path. Raises ChartsUnavailableError without matplotlib
    (``pip install 'm365sentinel[charts]'``), InvalidInputError for a path not ending in ``.png`` or in a directory
    that does not exist, OSError (e.g. no permission to write)."""
    return _write(report, path, "png")


def write_svg(report: VerificationReport, path: str | os.PathLike[str]) -> Path:
    """Like ``write_png``, as SVG (path ending in ``.svg``)."""
    return _write(report, path, "svg")


def text_chart(series: TimeSeries | Sequence[TimeSeries], *, width: int = 14, label_width: int = 10) -> str:
    """A compact terminal chart: one row per series, one block character per point (resampled to ``width`` columns
    when longer), each row scaled to its own largest value, followed by the total. No dependency."""
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise InvalidInputError(f"width must be a positive int, got {width!r}")
    items = [series] if not isinstance(series, Sequence) else list(series)
    rows = []
    for s in items:
        values = [float(v) for _, v in s.points]
        if len(values) > width:  # resample by summing consecutive groups
            step = len(values) / width
            values = [sum(values[int(i * step) : int((i + 1) * step)]) for i in range(width)]
        local_peak = max(values, default=0.0)
        bar = "".join(
            _BLOCKS[0] if v <= 0 or local_peak <= 0 else _BLOCKS[max(1, round(v / local_peak * (len(_BLOCKS) - 1)))]
            for v in values
        )
        name = (s.legend or "")[:label_width]
        rows.append(f"{name:<{label_width}} {bar} {s.total:g}")
    return "\n".join(rows)
