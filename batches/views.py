"""Website pages for campaign batches: create one from the generate page, and follow it on its own page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from generation.models import JobStatus

from . import selectors
from .forms import BatchForm


@login_required
@require_POST
def batch_create(request: HttpRequest) -> HttpResponse:
    """The generate form's "Generate at these sizes" button; a refusal goes back to the form as messages."""
    form = BatchForm(request.POST)
    if form.is_valid() and (batch := form.submit(user=request.user)) is not None:
        count = batch.entries.count()
        messages.success(request, _("Batch %(pk)s is queued: %(count)s jobs.") % {"pk": batch.pk, "count": count})
        return redirect("batches:batch", pk=batch.pk)
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else None
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else error)
    return redirect("generation:generate")


@login_required
@require_GET
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(selectors.batches_for(request.user), pk=pk)
    entries = list(batch.entries.all())
    return render(
        request,
        "pages/batch_detail.html",
        {
            "batch": batch,
            "jobs": [entry.job for entry in entries],
            # Recounted live by static/js/progress.js as the rows' events arrive over the WebSocket.
            "counts": [
                (status, JobStatus(status).label, n) for status, n in selectors.status_counts(batch).items() if n
            ],
            "has_images": bool(selectors.zip_entries(batch)),
        },
    )
