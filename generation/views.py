"""Website pages for generating: the dashboard, the generate form, a job's live progress and the job history.
Thin: each parses the request, calls a service or selector, and renders."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.selectors import limits_for
from gallery.selectors import live_images_for
from gallery.views import image_page
from templates_app.selectors import listed_templates

from . import events, progress, selectors, services
from .engine.paths import PATH_CHOICES, PATH_NAMES
from .filters import JobPageFilter
from .forms import (
    IMAGE_ACTION_FORMS,
    EstimateForm,
    GenerateForm,
    generate_page_data,
    initial_for_edit,
    initial_from_image,
    initial_from_job,
)
from .image_input import SourceNotFound
from .models import FINAL_STATUSES, JobStatus

JOBS_PAGE_SIZE = 20
DASHBOARD_IMAGES = 12


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    jobs = selectors.jobs_for(request.user)
    return render(
        request,
        "pages/dashboard.html",
        {
            "limits": limits_for(request.user),
            "active_jobs": list(jobs.exclude(status__in=FINAL_STATUSES)[:10]),
            "recent_jobs": list(jobs.filter(status__in=FINAL_STATUSES)[:5]),
            "recent_images": list(live_images_for(request.user)[:DASHBOARD_IMAGES]),
        },
    )


def _prefill(request: HttpRequest) -> dict:
    """Initial values from the query string: a template or path to start from, or an earlier image or job."""
    if image_id := request.GET.get("from_image"):
        try:
            image_uuid = uuid.UUID(image_id)
        except ValueError:
            raise Http404(_("No such image.")) from None
        image = get_object_or_404(live_images_for(request.user).select_related("job__template"), uuid=image_uuid)
        return initial_for_edit(image) if request.GET.get("edit") == "region" else initial_from_image(image)
    if job_id := request.GET.get("from_job"):
        job = get_object_or_404(selectors.jobs_for(request.user), pk=job_id if job_id.isdigit() else 0)
        return initial_from_job(job)
    initial = {}
    if slug := request.GET.get("template"):
        template = next((t for t in listed_templates() if t.slug == slug), None)
        if template is not None:
            initial.update(template=template.slug, production_path=template.production_path)
            if template.sample_prompt:
                initial["prompt"] = template.sample_prompt
    if (path := request.GET.get("path")) in PATH_NAMES:
        initial.setdefault("production_path", path)
    return initial


@login_required
@require_http_methods(["GET", "POST"])
def generate(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = GenerateForm(request.POST, request.FILES, user=request.user)
        if form.is_valid() and (job := form.submit(user=request.user)) is not None:
            messages.success(request, _("Job %(job)s is queued.") % {"job": job.pk})
            if job.dispatched_at is None:
                messages.warning(
                    request, _("The job queue is unreachable right now; your job is saved and starts when it is back.")
                )
            return redirect("generation:job", pk=job.pk)
    else:
        form = GenerateForm(initial=_prefill(request), user=request.user)
    return render(
        request,
        "pages/generate.html",
        {
            "form": form,
            "page_data": generate_page_data(),
            "limits": limits_for(request.user),
            # Edit region (the image page's button): the painter opens on the prefilled image.
            "edit_region": request.method == "GET" and request.GET.get("edit") == "region",
        },
    )


@login_required
@require_GET
def generate_estimate(request: HttpRequest) -> JsonResponse:
    """The generate page's cost, size and time for its fields as they stand, priced by the server's own rules;
    bad input is a 400 naming the field, another user's image a 404."""
    form = EstimateForm(request.GET, user=request.user)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    try:
        return JsonResponse(form.quote(user=request.user))
    except SourceNotFound as error:
        return JsonResponse(
            {"errors": {error.field: [{"message": _("No such image."), "code": "not_found"}]}}, status=404
        )
    except ValidationError as error:  # what the submit would refuse too (the size of an inpaint, a model)
        fields = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
        errors = {
            field: [{"message": message, "code": "invalid"} for message in messages]
            for field, messages in fields.items()
        }
        return JsonResponse({"errors": errors}, status=400)


@login_required
@require_GET
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(selectors.jobs_for(request.user), pk=pk)
    progress.overlay([job])  # a running job's step is live in Redis; its row holds the last milestone
    return render(
        request,
        "pages/job_detail.html",
        {
            "job": job,
            "images": list(job.images.all()),
            "estimated_seconds": services.estimate_seconds(job),
            **events.queue_fields(job),  # queue_position, estimated_start_seconds (None unless queued)
        },
    )


@login_required
@require_GET
def job_list(request: HttpRequest) -> HttpResponse:
    """The user's jobs, narrowed by the jobs API's own filters (generation.filters); a bad value is ignored."""
    filters = JobPageFilter(request.GET, queryset=selectors.browse_jobs(request.user))
    page = Paginator(filters.qs, JOBS_PAGE_SIZE).get_page(request.GET.get("page"))
    progress.overlay(page.object_list)  # running jobs' live steps (the rows the template renders)
    values = filters.form.cleaned_data
    status, path, query = values.get("status") or "", values.get("path") or "", values.get("q") or ""
    return render(
        request,
        "pages/job_list.html",
        {
            "page": page,
            "status": status,
            "path": path,
            "query": query,
            "statuses": JobStatus.choices,
            "paths": PATH_CHOICES,
        },
    )


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    """Back to the page the form came from when it is one of ours, else to `fallback`."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect(fallback)


@login_required
@require_POST
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(selectors.jobs_for(request.user), pk=pk)
    job = services.cancel_job(job=job)
    if job.status == JobStatus.CANCELED:
        messages.success(
            request, _("Job %(job)s is canceled; credits for images it did not make are returned.") % {"job": job.pk}
        )
    else:
        messages.info(
            request,
            _("Job %(job)s had already ended: %(status)s.") % {"job": job.pk, "status": job.get_status_display()},
        )
    return _back(request, reverse("generation:job", kwargs={"pk": job.pk}))


@login_required
@require_POST
def job_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask for the same picture again: the job's request goes through the generate form, checks and all."""
    job = get_object_or_404(selectors.jobs_for(request.user), pk=pk)
    form = GenerateForm(initial_from_job(job), user=request.user)
    if form.is_valid() and (new_job := form.submit(user=request.user)) is not None:
        messages.success(
            request, _("Job %(new)s is queued with the settings of job %(old)s.") % {"new": new_job.pk, "old": job.pk}
        )
        return redirect("generation:job", pk=new_job.pk)
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else error)
    return redirect(f"{reverse('generation:generate')}?from_job={job.pk}")


@login_required
@require_POST
def image_action(request: HttpRequest, pk: uuid.UUID, action: str) -> HttpResponse:
    """Vary, extend or upscale one of the user's images: off to the new job's live page, or back to the image's
    page with the refusal next to its field (nothing stored then). Another user's image is a 404."""
    image = get_object_or_404(live_images_for(request.user).select_related("job__template"), uuid=pk)
    form = IMAGE_ACTION_FORMS[action](request.POST)
    if form.is_valid() and (job := form.submit(user=request.user, image=image)) is not None:
        messages.success(request, _("Job %(job)s is queued.") % {"job": job.pk})
        return redirect("generation:job", pk=job.pk)
    return image_page(request, image, status=400, action_forms={action: form})
