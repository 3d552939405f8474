"""Website pages for stories: the list, a story with its chapters and characters, a chapter with its scenes and
their images, and the forms that create them or queue their images. Rows are found through scenes.selectors,
which start from request.user, so another user's story is a 404."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Max
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.exceptions import AccountsError
from gallery.selectors import live_images_for
from generation.engine.paths import PATH_CHOICES
from templates_app.selectors import listed_templates, template_for_jobs

from . import selectors, services
from .models import Chapter, Character, Scene, Story


class StoryForm(forms.Form):
    title = forms.CharField(max_length=200, label=gettext_lazy("Title"))
    description = forms.CharField(
        required=False, label=gettext_lazy("Description"), widget=forms.Textarea(attrs={"rows": 3})
    )
    template = forms.ChoiceField(
        required=False,
        label=gettext_lazy("Visual style"),
        help_text=gettext_lazy("A template gives every scene the same look."),
    )
    production_path = forms.ChoiceField(
        choices=PATH_CHOICES,
        initial="cinema",
        label=gettext_lazy("Production path"),
        help_text=gettext_lazy("Used when no template is chosen."),
    )
    style = forms.CharField(
        required=False,
        max_length=300,
        label=gettext_lazy("Style words"),
        help_text=gettext_lazy("Added to every scene's prompt, e.g. “watercolour, soft light”."),
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = [("", _("No template"))] + [
            (t.slug, f"{t.name} ({t.get_production_path_display()})") for t in listed_templates()
        ]

    def clean_template(self):
        slug = self.cleaned_data.get("template")
        if not slug:
            return None
        template = template_for_jobs(slug)
        if template is None:
            raise ValidationError(_("This template is not available any more."))
        return template


class ChapterForm(forms.Form):
    number = forms.IntegerField(min_value=1, label=gettext_lazy("Chapter number"))
    title = forms.CharField(required=False, max_length=200, label=gettext_lazy("Title"))
    script = forms.CharField(required=False, label=gettext_lazy("Script"), widget=forms.Textarea(attrs={"rows": 4}))
    style = forms.CharField(required=False, max_length=300, label=gettext_lazy("Style words"))


class CharacterForm(forms.Form):
    name = forms.CharField(max_length=120, label=gettext_lazy("Name"))
    description = forms.CharField(
        required=False,
        label=gettext_lazy("Description"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Appearance, used in every prompt the character is in."),
    )


class SceneForm(forms.Form):
    scene_number = forms.IntegerField(min_value=1, label=gettext_lazy("Scene number"))
    description = forms.CharField(
        label=gettext_lazy("Description"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("What happens in the picture."),
    )
    characters = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label=gettext_lazy("Characters")
    )

    def __init__(self, *args: Any, story: Story, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.story = story
        self.fields["characters"].choices = [(str(c.pk), c.name) for c in story.characters.all()]

    def clean_characters(self) -> list[Character]:
        ids = [int(value) for value in self.cleaned_data.get("characters", [])]
        return list(self.story.characters.filter(pk__in=ids))


def _apply_errors(form: forms.Form, error: ValidationError) -> None:
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, messages_ in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages_)


def _queue_failed(request: HttpRequest, error: Exception) -> None:
    text = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
    messages.error(request, _("Could not queue the image: %(reason)s") % {"reason": text})


# --- Stories -------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def story_list(request: HttpRequest) -> HttpResponse:
    form = StoryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            story = services.create_story(owner=request.user, **form.cleaned_data)
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(
                request, _("Story “%(title)s” created. Add its characters and first chapter.") % {"title": story.title}
            )
            return redirect("scenes:story", pk=story.pk)
    stories = selectors.stories_for(request.user).annotate(
        chapter_count=Count("chapters", distinct=True), character_count=Count("characters", distinct=True)
    )
    return render(request, "scenes/pages/story_list.html", {"stories": stories, "form": form})


def _story(request: HttpRequest, pk: int) -> Story:
    return get_object_or_404(selectors.stories_for(request.user), pk=pk)


def _story_context(story: Story, **forms_: forms.Form) -> dict[str, Any]:
    chapters = story.chapters.annotate(scene_count=Count("scenes")).order_by("number")
    characters = []
    for character in story.characters.order_by("name", "id"):
        latest = selectors.image_requests(character=character).first()
        characters.append({"character": character, "request": latest})
    next_number = (story.chapters.aggregate(n=Max("number"))["n"] or 0) + 1
    return {
        "story": story,
        "chapters": chapters,
        "characters": characters,
        "chapter_form": forms_.get("chapter_form") or ChapterForm(initial={"number": next_number}),
        "character_form": forms_.get("character_form") or CharacterForm(),
    }


@login_required
@require_GET
def story_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "scenes/pages/story_detail.html", _story_context(_story(request, pk)))


@login_required
@require_POST
def chapter_create(request: HttpRequest, pk: int) -> HttpResponse:
    story = _story(request, pk)
    form = ChapterForm(request.POST)
    if form.is_valid():
        try:
            chapter = services.create_chapter(story=story, **form.cleaned_data)
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(
                request, _("Chapter %(number)s added. Now describe its scenes.") % {"number": chapter.number}
            )
            return redirect("scenes:chapter", pk=chapter.pk)
    context = _story_context(story, chapter_form=form)
    return render(request, "scenes/pages/story_detail.html", context, status=400)


@login_required
@require_POST
def character_create(request: HttpRequest, pk: int) -> HttpResponse:
    story = _story(request, pk)
    form = CharacterForm(request.POST)
    if form.is_valid():
        try:
            character = services.create_character(story=story, **form.cleaned_data)
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(
                request,
                _("%(name)s joined the story with a fixed seed, so they look alike.") % {"name": character.name},
            )
            return redirect("scenes:story", pk=story.pk)
    context = _story_context(story, character_form=form)
    return render(request, "scenes/pages/story_detail.html", context, status=400)


@login_required
@require_POST
def character_generate(request: HttpRequest, pk: int) -> HttpResponse:
    character = get_object_or_404(selectors.characters_for(request.user), pk=pk)
    try:
        queued = services.generate_character_image(character=character)
    except (ValidationError, AccountsError) as error:
        _queue_failed(request, error)
        return redirect("scenes:story", pk=character.story_id)
    messages.success(request, _("A picture of %(name)s is queued.") % {"name": character.name})
    return redirect("generation:job", pk=queued.job_id)


# --- Chapters and scenes -------------------------------------------------------------------------


def _chapter(request: HttpRequest, pk: int) -> Chapter:
    return get_object_or_404(selectors.chapters_for(request.user), pk=pk)


def _chapter_context(chapter: Chapter, scene_form: SceneForm | None = None) -> dict[str, Any]:
    scenes = []
    for scene in chapter.scenes.order_by("scene_number").prefetch_related("characters").select_related("chosen_image"):
        requests = list(selectors.image_requests(scene=scene)[:5])
        images = [image for request in requests for image in request.job.images.all() if image.deleted_at is None]
        scenes.append(
            {
                "scene": scene,
                "latest": requests[0] if requests else None,
                "images": images[:8],
                "chosen": scene.chosen_image if scene.chosen_image and scene.chosen_image.deleted_at is None else None,
            }
        )
    next_number = (chapter.scenes.aggregate(n=Max("scene_number"))["n"] or 0) + 1
    return {
        "story": chapter.story,
        "chapter": chapter,
        "scenes": scenes,
        "scene_form": scene_form or SceneForm(story=chapter.story, initial={"scene_number": next_number}),
    }


@login_required
@require_GET
def chapter_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "scenes/pages/chapter_detail.html", _chapter_context(_chapter(request, pk)))


@login_required
@require_POST
def scene_create(request: HttpRequest, pk: int) -> HttpResponse:
    chapter = _chapter(request, pk)
    form = SceneForm(request.POST, story=chapter.story)
    if form.is_valid():
        try:
            scene = services.create_scene(chapter=chapter, **form.cleaned_data)
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, _("Scene %(number)s added.") % {"number": scene.scene_number})
            return redirect("scenes:chapter", pk=chapter.pk)
    return render(request, "scenes/pages/chapter_detail.html", _chapter_context(chapter, form), status=400)


@login_required
@require_POST
def chapter_generate(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue one job per scene; a refusal part-way (credits, plan limits) says which scenes were left out."""
    chapter = _chapter(request, pk)
    if not chapter.scenes.exists():
        messages.error(request, _("Add a scene before generating the chapter."))
        return redirect("scenes:chapter", pk=chapter.pk)
    result = services.generate_chapter_images(chapter=chapter)
    if result.queued:
        count = len(result.queued)
        messages.success(
            request,
            ngettext("Queued %(count)s scene image.", "Queued %(count)s scene images.", count) % {"count": count},
        )
    if result.error is not None:
        left = ", ".join(str(scene.scene_number) for scene in result.not_queued)
        _queue_failed(request, result.error)
        messages.warning(request, _("Not queued: scene %(numbers)s.") % {"numbers": left})
    return redirect("scenes:chapter", pk=chapter.pk)


def _scene(request: HttpRequest, pk: int) -> Scene:
    return get_object_or_404(selectors.scenes_for(request.user), pk=pk)


@login_required
@require_POST
def scene_generate(request: HttpRequest, pk: int) -> HttpResponse:
    scene = _scene(request, pk)
    try:
        services.generate_scene_image(scene=scene)
    except (ValidationError, AccountsError) as error:
        _queue_failed(request, error)
    else:
        messages.success(
            request,
            _("Scene %(number)s is queued; its picture appears here when done.") % {"number": scene.scene_number},
        )
    return redirect(f"{_chapter_url(scene)}#scene-{scene.pk}")


@login_required
@require_POST
def scene_choose(request: HttpRequest, pk: int) -> HttpResponse:
    scene = _scene(request, pk)
    try:
        image_id = uuid.UUID(request.POST.get("image", ""))
    except ValueError:
        raise Http404(_("No such image.")) from None
    image = get_object_or_404(live_images_for(request.user), uuid=image_id)
    try:
        services.choose_scene_image(scene=scene, image=image)
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
    else:
        messages.success(request, _("Scene %(number)s now uses this picture.") % {"number": scene.scene_number})
    return redirect(f"{_chapter_url(scene)}#scene-{scene.pk}")


def _chapter_url(scene: Scene) -> str:
    return reverse("scenes:chapter", kwargs={"pk": scene.chapter_id})
