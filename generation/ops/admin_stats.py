"""The admin's statistics page: jobs per production path and per template over a period, queues and workers.

Every number is aggregated in the database, a fixed handful of queries whatever the number of jobs: on
PostgreSQL the percentiles are `percentile_cont` ordered-set aggregates; elsewhere (SQLite in development)
they are computed in Python from the period's timings, with the same linear interpolation.

Success rate = succeeded / (succeeded + failed): a job its owner canceled is neither. Processing time is
finished - started of succeeded jobs; queue wait is started - created of every job that started (for a
retried job, until its last start). Credits consumed are the ledger's charges for the period's jobs.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib.admin import AdminSite
from django.db import connection
from django.db.models import Aggregate, Count, F, FloatField, Func, Q, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import formats, timezone
from django.utils.translation import gettext, gettext_lazy

from accounts.models import CreditEntry, EntryKind
from generation.engine.paths import PATH_CHOICES, PATH_NAMES
from generation.models import GenerationJob, JobStatus

from . import monitoring

PERIODS = {
    "24h": (gettext_lazy("Last 24 hours"), dt.timedelta(hours=24)),
    "7d": (gettext_lazy("Last 7 days"), dt.timedelta(days=7)),
    "30d": (gettext_lazy("Last 30 days"), dt.timedelta(days=30)),
}
STATUS_COLOURS = {
    JobStatus.SUCCEEDED: "#2e7d32",
    JobStatus.FAILED: "#c62828",
    JobStatus.CANCELED: "#9e9e9e",
    JobStatus.RUNNING: "#1565c0",
    JobStatus.QUEUED: "#f9a825",
}
P50_COLOUR, P95_COLOUR, CREDITS_COLOUR = "#64b5f6", "#0d47a1", "#6a1b9a"
NO_TEMPLATE = gettext_lazy("No template")


# --- database aggregates ------------------------------------------------------------------------


class Epoch(Func):
    """An interval in seconds (PostgreSQL)."""

    template = "EXTRACT(EPOCH FROM %(expressions)s)"
    output_field = FloatField()


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate: the value below which `fraction` of the group's rows fall, interpolated."""

    function = "PERCENTILE_CONT"
    name = "PercentileCont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: Any, fraction: float, **extra: Any):
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be between 0 and 1")
        super().__init__(expression, fraction=repr(float(fraction)), output_field=FloatField(), **extra)


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Same definition as percentile_cont: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --- the numbers --------------------------------------------------------------------------------


@dataclass
class GroupStats:
    key: Any
    label: str
    counts: dict[str, int] = field(default_factory=dict)
    processing_p50: float | None = None
    processing_p95: float | None = None
    wait_p50: float | None = None
    wait_p95: float | None = None
    credits: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def success_rate(self) -> float | None:
        decided = self.counts.get(JobStatus.SUCCEEDED, 0) + self.counts.get(JobStatus.FAILED, 0)
        return self.counts.get(JobStatus.SUCCEEDED, 0) / decided if decided else None

    @property
    def success_percent(self) -> float | None:
        rate = self.success_rate
        return None if rate is None else round(100 * rate, 1)

    @property
    def status_counts(self) -> list[tuple[str, int]]:
        return [(status.label, self.counts.get(status, 0)) for status in JobStatus]


def _period_jobs(since: dt.datetime, until: dt.datetime) -> QuerySet[GenerationJob]:
    return GenerationJob.objects.filter(created_at__gte=since, created_at__lt=until).order_by()


def _grouped_postgres(jobs: QuerySet[GenerationJob], keys: Sequence[str]) -> list[dict[str, Any]]:
    processing = Epoch(F("finished_at") - F("started_at"))
    wait = Epoch(F("started_at") - F("created_at"))
    succeeded = Q(status=JobStatus.SUCCEEDED)
    return list(
        jobs.values(*keys).annotate(
            **{f"n_{status}": Count("id", filter=Q(status=status)) for status in JobStatus.values},
            processing_p50=PercentileCont(processing, 0.5, filter=succeeded),
            processing_p95=PercentileCont(processing, 0.95, filter=succeeded),
            wait_p50=PercentileCont(wait, 0.5),
            wait_p95=PercentileCont(wait, 0.95),
        )
    )


def _grouped_python(jobs: QuerySet[GenerationJob], keys: Sequence[str]) -> list[dict[str, Any]]:
    """The same rows as _grouped_postgres from one plain query, for databases without percentile_cont."""
    groups: dict[tuple, dict[str, Any]] = {}
    timings: dict[tuple, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    fields = ("status", "created_at", "started_at", "finished_at")
    for row in jobs.values(*keys, *fields):
        key = tuple(row[name] for name in keys)
        if key not in groups:
            groups[key] = dict(zip(keys, key, strict=True)) | {f"n_{status}": 0 for status in JobStatus.values}
        group = groups[key]
        group[f"n_{row['status']}"] += 1
        processing, wait = timings[key]
        if row["started_at"] is not None:
            wait.append((row["started_at"] - row["created_at"]).total_seconds())
            if row["status"] == JobStatus.SUCCEEDED and row["finished_at"] is not None:
                processing.append((row["finished_at"] - row["started_at"]).total_seconds())
    for key, group in groups.items():
        processing, wait = timings[key]
        group |= {
            "processing_p50": percentile(processing, 0.5),
            "processing_p95": percentile(processing, 0.95),
            "wait_p50": percentile(wait, 0.5),
            "wait_p95": percentile(wait, 0.95),
        }
    return list(groups.values())


def _grouped(jobs: QuerySet[GenerationJob], keys: Sequence[str]) -> list[dict[str, Any]]:
    if connection.vendor == "postgresql":
        return _grouped_postgres(jobs, keys)
    return _grouped_python(jobs, keys)


def _credits_by(since: dt.datetime, until: dt.datetime, key: str) -> dict[Any, int]:
    charges = (
        CreditEntry.objects.filter(kind=EntryKind.CHARGE, job__created_at__gte=since, job__created_at__lt=until)
        .order_by()
        .values_list(f"job__{key}")
        .annotate(spent=Sum("reserved_change"))
    )
    return {group: -spent for group, spent in charges}


def _stats_from(row: dict[str, Any], key: Any, label: str, credits: dict[Any, int]) -> GroupStats:
    return GroupStats(
        key=key,
        label=label,
        counts={status: row[f"n_{status}"] for status in JobStatus.values},
        processing_p50=row["processing_p50"],
        processing_p95=row["processing_p95"],
        wait_p50=row["wait_p50"],
        wait_p95=row["wait_p95"],
        credits=credits.get(key, 0),
    )


def stats_by_path(since: dt.datetime, until: dt.datetime) -> list[GroupStats]:
    """One row per production path that had jobs in [since, until), in the paths' own order. Two queries."""
    credits = _credits_by(since, until, "production_path")
    rows = {row["production_path"]: row for row in _grouped(_period_jobs(since, until), ["production_path"])}
    labels = dict(PATH_CHOICES)
    order = [*PATH_NAMES, *sorted(set(rows) - set(PATH_NAMES))]
    return [_stats_from(rows[path], path, labels.get(path, path), credits) for path in order if path in rows]


def stats_by_template(since: dt.datetime, until: dt.datetime) -> list[GroupStats]:
    """One row per template version used in [since, until), most used first; jobs without one last. Two queries."""
    credits = _credits_by(since, until, "template_id")
    rows = _grouped(_period_jobs(since, until), ["template_id", "template__name", "template__version"])
    stats = [
        _stats_from(
            row,
            row["template_id"],
            f"{row['template__name']} v{row['template__version']}" if row["template_id"] else str(NO_TEMPLATE),
            credits,
        )
        for row in rows
    ]
    return sorted(stats, key=lambda group: (group.key is None, -group.total, group.label))


# --- SVG bar charts, laid out here so the template only draws ----------------------------------


@dataclass
class Segment:
    x: float
    width: float
    colour: str
    title: str


@dataclass
class Bar:
    y: float
    height: float
    segments: list[Segment]
    value_label: str
    label_x: float

    @property
    def text_y(self) -> float:
        return round(self.y + self.height - 3, 1)


@dataclass
class ChartRow:
    label: str
    label_y: float
    bars: list[Bar]


@dataclass
class BarChart:
    title: str
    width: int
    height: int
    rows: list[ChartRow]
    legend: list[tuple[str, str]]
    empty: bool

    LABEL_WIDTH = 170
    PLOT_WIDTH = 420
    BAR_HEIGHT = 14
    ROW_GAP = 12


def bar_chart(
    title: str,
    rows: Iterable[tuple[str, list[list[tuple[float, str, str]]]]],
    *,
    unit: str = "",
    legend: Sequence[tuple[str, str]] = (),
) -> BarChart:
    """Horizontal bars. Each row has one or more bars; each bar is a stack of (value, colour, name) segments."""
    rows = list(rows)
    largest = max((sum(value for value, _, _ in bar) for _, bars in rows for bar in bars), default=0) or 1
    scale = BarChart.PLOT_WIDTH / largest
    chart_rows, y = [], 8.0
    for label, bars in rows:
        laid_out = []
        for index, segments in enumerate(bars):
            bar_y = y + index * (BarChart.BAR_HEIGHT + 2)
            x, drawn = float(BarChart.LABEL_WIDTH), []
            for value, colour, name in segments:
                width = value * scale
                if width > 0:
                    drawn.append(
                        Segment(
                            x=round(x, 1), width=round(width, 1), colour=colour, title=f"{name}: {_fmt(value, unit)}"
                        )
                    )
                x += width
            total = sum(value for value, _, _ in segments)
            laid_out.append(
                Bar(
                    y=round(bar_y, 1),
                    height=BarChart.BAR_HEIGHT,
                    segments=drawn,
                    value_label=_fmt(total, unit),
                    label_x=round(x + 4, 1),
                )
            )
        block = len(bars) * (BarChart.BAR_HEIGHT + 2) - 2
        chart_rows.append(ChartRow(label=label, label_y=round(y + block / 2 + 4, 1), bars=laid_out))
        y += block + BarChart.ROW_GAP
    return BarChart(
        title=title,
        width=BarChart.LABEL_WIDTH + BarChart.PLOT_WIDTH + 70,
        height=int(y),
        rows=chart_rows,
        legend=list(legend),
        empty=not rows,
    )


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    number = f"{value:,.0f}" if float(value).is_integer() or value >= 100 else f"{value:,.1f}"
    return f"{number} {unit}".strip()


def charts_for(groups: list[GroupStats]) -> list[BarChart]:
    statuses = [status for status in JobStatus if status in STATUS_COLOURS]
    return [
        bar_chart(
            gettext_lazy("Jobs by status"),
            [
                (group.label, [[(group.counts.get(s, 0), STATUS_COLOURS[s], s.label) for s in statuses]])
                for group in groups
            ],
            legend=[(STATUS_COLOURS[s], s.label) for s in statuses],
        ),
        bar_chart(
            gettext_lazy("Processing time (succeeded jobs)"),
            [
                (
                    group.label,
                    [
                        [(group.processing_p50 or 0, P50_COLOUR, "p50")],
                        [(group.processing_p95 or 0, P95_COLOUR, "p95")],
                    ],
                )
                for group in groups
            ],
            unit="s",
            legend=[(P50_COLOUR, "p50"), (P95_COLOUR, "p95")],
        ),
        bar_chart(
            gettext_lazy("Queue wait"),
            [
                (group.label, [[(group.wait_p50 or 0, P50_COLOUR, "p50")], [(group.wait_p95 or 0, P95_COLOUR, "p95")]])
                for group in groups
            ],
            unit="s",
            legend=[(P50_COLOUR, "p50"), (P95_COLOUR, "p95")],
        ),
        bar_chart(
            gettext_lazy("Credits consumed"),
            [(group.label, [[(group.credits, CREDITS_COLOUR, "credits")]]) for group in groups],
        ),
    ]


# --- the page -----------------------------------------------------------------------------------


class PeriodForm(forms.Form):
    period = forms.ChoiceField(
        choices=[*((key, label) for key, (label, _) in PERIODS.items()), ("custom", gettext_lazy("Custom"))],
        initial="24h",
        required=False,
        label=gettext_lazy("Period"),
    )
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label=gettext_lazy("Start"))
    end = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        label=gettext_lazy("End"),
        help_text=gettext_lazy("Inclusive."),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("period") == "custom":
            start, end = cleaned.get("start"), cleaned.get("end")
            if not start or not end:
                raise forms.ValidationError(gettext_lazy("A custom period needs a start and an end date."))
            if end < start:
                raise forms.ValidationError(gettext_lazy("The end date is before the start date."))
        return cleaned

    def bounds(self, now: dt.datetime) -> tuple[dt.datetime, dt.datetime, str]:
        """[since, until) and a description; the last 24 hours when the form is not valid."""
        data = self.cleaned_data if self.is_valid() else {}
        period = data.get("period") or "24h"
        if period == "custom":
            zone = timezone.get_current_timezone()
            since = dt.datetime.combine(data["start"], dt.time.min, tzinfo=zone)
            until = dt.datetime.combine(data["end"] + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
            dates = {"start": formats.date_format(data["start"]), "end": formats.date_format(data["end"])}
            return since, until, gettext("%(start)s to %(end)s") % dates
        label, length = PERIODS[period]
        return now - length, now, label


def stats_view(request: HttpRequest, *, admin_site: AdminSite) -> HttpResponse:
    """Staff only (wrapped in admin_site.admin_view by GenerationJobAdmin.get_urls)."""
    form = PeriodForm(request.GET or None)
    since, until, period_label = form.bounds(timezone.now())
    by_path = stats_by_path(since, until)
    by_template = stats_by_template(since, until)
    context = {
        **admin_site.each_context(request),
        "title": gettext_lazy("Generation statistics"),
        "opts": GenerationJob._meta,
        "form": form,
        "since": since,
        "until": until,
        "period_label": period_label,
        "sections": [
            {"title": gettext_lazy("By production path"), "groups": by_path, "charts": charts_for(by_path)},
            {"title": gettext_lazy("By template"), "groups": by_template, "charts": charts_for(by_template)},
        ],
        "statuses": [status.label for status in JobStatus],
        "queue_depths": monitoring.queue_depths(),
        "workers": monitoring.workers_online(),
    }
    return TemplateResponse(request, "admin/generation/stats.html", context)
