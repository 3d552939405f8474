"""Website pages for stories: the list, a story with its chapters and characters, a chapter with its scenes and
their images, and the forms that create them or queue their images. Rows are found through scenes.selectors,
which start from request.user, so another user's story is a 404."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from accounts.models import User

from accounts.exceptions import AccountsError
from brands.forms import StylePickerForm, styles_as_data
from brands.models import BrandKit
from brands.selectors import brand_kits_of
from gallery.selectors import live_images_for, signed_url
from gallery.uploads import clean_uploaded_image
from generation.engine.paths import PATH_CHOICES
from templates_app.selectors import listed_templates, template_for_jobs

from . import selectors, services
from .models import MAX_REFERENCE_STRENGTH, MIN_REFERENCE_STRENGTH, Chapter, Character, Scene, Story


class StoryForm(StylePickerForm):
    """A story's fields, with the styles and brand kit every image of it uses (brands.forms' style picker; what
    is allowed is decided by scenes.services.update_story through brands.services)."""

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

    field_order = ["title", "description", "template", "production_path", "style", "styles", "brand_kit"]
    brand_kit = forms.TypedChoiceField(
        coerce=int,
        empty_value=None,
        required=False,
        label=gettext_lazy("Brand kit"),
        help_text=gettext_lazy("Its colours, tone and words to avoid go into every image of the story."),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["template"].choices = [("", _("No template"))] + [
            (t.slug, f"{t.display_name} ({t.get_production_path_display()})") for t in listed_templates()
        ]
        self.init_style_picker(user=user)
        kits = [(kit.pk, kit.name) for kit in brand_kits_of(user=user)]
        self.choice_field("brand_kit").choices = [("", _("No brand kit")), *kits]

    def clean_brand_kit(self) -> BrandKit | None:
        kit_id = self.cleaned_data.get("brand_kit")
        if kit_id is None:
            return None
        kit = brand_kits_of(user=self.user).filter(pk=kit_id).first()
        if kit is None:  # deleted since the page was shown
            raise ValidationError(_("No such brand kit."))
        return kit

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


class CharacterEditForm(CharacterForm):
    reference_image = forms.FileField(
        required=False,
        label=gettext_lazy("Reference image"),
        help_text=gettext_lazy("PNG, JPEG or WebP. The character's pictures start from it; a new one replaces it."),
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/png,image/jpeg,image/webp", "data-reference-input": ""}
        ),
    )
    reference_strength = forms.FloatField(
        min_value=MIN_REFERENCE_STRENGTH,
        max_value=MAX_REFERENCE_STRENGTH,
        label=gettext_lazy("Reference strength"),
        help_text=Character._meta.get_field("reference_strength").help_text,
        widget=forms.NumberInput(attrs={"step": "0.05"}),
    )

    def clean_reference_image(self) -> bytes | None:
        """The upload re-encoded as PNG, checked as the API checks a reference image (its reasons in the page's
        language, by their codes)."""
        upload = self.cleaned_data.get("reference_image")
        if not upload:
            return None
        try:
            return clean_uploaded_image(upload)
        except ValidationError as error:
            reasons = {
                "too_large": _("The file is too large."),
                "empty": _("The file is empty."),
                "format": _("Use a PNG, JPEG or WebP image."),
                "animated": _("Animated images are not accepted: upload a single still image."),
                "too_many_pixels": _("The image has too many pixels."),
                "invalid_image": _("The file is not a valid image or is corrupt."),
            }
            codes = [item.code for item in error.error_list]
            raise ValidationError(
                [str(reasons.get(code or "", message)) for code, message in zip(codes, error.messages, strict=True)]
            ) from None


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
    form = StoryForm(request.POST or None, user=request.user)
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
    status = 400 if form.errors else 200
    return render(request, "scenes/pages/story_list.html", {"stories": stories, "form": form}, status=status)


def _story(request: HttpRequest, pk: int) -> Story:
    return get_object_or_404(selectors.stories_for(request.user), pk=pk)


def _story_context(story: Story, **forms_: forms.Form) -> dict[str, Any]:
    chapters = story.chapters.annotate(scene_count=Count("scenes")).order_by("number")
    characters = []
    for character in story.characters.order_by("name", "id"):
        latest = selectors.image_requests(character=character).first()
        reference = signed_url(character.reference_image.name) if character.reference_image else None
        characters.append({"character": character, "request": latest, "reference_url": reference})
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
        chosen = scene.chosen_image if scene.chosen_image and scene.chosen_image.deleted_at is None else None
        scenes.append(
            {
                "scene": scene,
                "latest": requests[0] if requests else None,
                "images": images[:8],
                "chosen": chosen,
                # The small grid, to choose from: shown when it holds more than the one picture already shown.
                "show_grid": len(images) > 1 or bool(images and not chosen),
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


# --- Editing and deleting ------------------------------------------------------------------------
# Each edit page is GET (the form) and POST (the change); each delete is a confirmation page (GET) and the delete
# (POST). Every row is found through the owner's selectors, so another user's id is a 404 either way.


def _edit_page(
    request: HttpRequest,
    *,
    form: forms.Form,
    title: str,
    crumbs: list[tuple[str, str]],
    back: str,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    context = {"form": form, "title": title, "crumbs": crumbs, "back": back, **extra}
    return render(request, "scenes/pages/edit.html", context, status=status)


def _confirm_page(
    request: HttpRequest, *, title: str, consequence: str, crumbs: list[tuple[str, str]], back: str
) -> HttpResponse:
    context = {"title": title, "consequence": consequence, "crumbs": crumbs, "back": back}
    return render(request, "pages/confirm_delete.html", context)


def _story_crumbs(story: Story) -> list[tuple[str, str]]:
    return [(reverse("scenes:list"), _("Stories")), (reverse("scenes:story", args=[story.pk]), story.title)]


def _chapter_crumbs(chapter: Chapter) -> list[tuple[str, str]]:
    label = _("Chapter %(number)s") % {"number": chapter.number}
    return [*_story_crumbs(chapter.story), (reverse("scenes:chapter", args=[chapter.pk]), label)]


def _save_form(form: forms.Form, write) -> bool:
    """Run `write(**cleaned_data)` for a valid form; a refusal from the service lands on the form's fields."""
    if not form.is_valid():
        return False
    try:
        write(**form.cleaned_data)
    except ValidationError as error:
        _apply_errors(form, error)
        return False
    return True


@login_required
@require_http_methods(["GET", "POST"])
def story_edit(request: HttpRequest, pk: int) -> HttpResponse:
    story = _story(request, pk)
    initial = {
        "title": story.title,
        "description": story.description,
        "template": story.template.slug if story.template else "",
        "production_path": story.production_path,
        "style": story.style,
        "brand_kit": story.brand_kit_id,
        **styles_as_data(story.styles or []),
    }
    form = StoryForm(request.POST or None, initial=initial, user=request.user)
    if request.method == "POST" and _save_form(form, lambda **data: services.update_story(story=story, **data)):
        messages.success(request, _("Story saved."))
        return redirect("scenes:story", pk=story.pk)
    story.refresh_from_db()  # a refused change was set on the row in memory only
    back = reverse("scenes:story", args=[story.pk])
    status = 400 if form.errors else 200
    return _edit_page(request, form=form, title=_("Edit story"), crumbs=_story_crumbs(story), back=back, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def story_delete(request: HttpRequest, pk: int) -> HttpResponse:
    story = _story(request, pk)
    if request.method == "POST":
        services.delete_story(story=story)
        messages.success(request, _("Story “%(title)s” deleted.") % {"title": story.title})
        return redirect("scenes:list")
    return _confirm_page(
        request,
        title=_("Delete the story “%(title)s”?") % {"title": story.title},
        consequence=_(
            "Its chapters, scenes and characters are deleted with it. The images already made stay in your gallery."
        ),
        crumbs=_story_crumbs(story),
        back=reverse("scenes:story", args=[story.pk]),
    )


@login_required
@require_http_methods(["GET", "POST"])
def chapter_edit(request: HttpRequest, pk: int) -> HttpResponse:
    chapter = _chapter(request, pk)
    initial = {"number": chapter.number, "title": chapter.title, "script": chapter.script, "style": chapter.style}
    form = ChapterForm(request.POST or None, initial=initial)
    if request.method == "POST" and _save_form(form, lambda **d: services.update_chapter(chapter=chapter, **d)):
        messages.success(request, _("Chapter saved."))
        return redirect("scenes:chapter", pk=chapter.pk)
    chapter.refresh_from_db()
    back = reverse("scenes:chapter", args=[chapter.pk])
    status = 400 if form.errors else 200
    crumbs = _chapter_crumbs(chapter)
    return _edit_page(request, form=form, title=_("Edit chapter"), crumbs=crumbs, back=back, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def chapter_delete(request: HttpRequest, pk: int) -> HttpResponse:
    chapter = _chapter(request, pk)
    if request.method == "POST":
        services.delete_chapter(chapter=chapter)
        messages.success(request, _("Chapter %(number)s deleted.") % {"number": chapter.number})
        return redirect("scenes:story", pk=chapter.story_id)
    return _confirm_page(
        request,
        title=_("Delete chapter %(number)s?") % {"number": chapter.number},
        consequence=_("Its scenes are deleted with it. The images already made stay in your gallery."),
        crumbs=_chapter_crumbs(chapter),
        back=reverse("scenes:chapter", args=[chapter.pk]),
    )


@login_required
@require_http_methods(["GET", "POST"])
def scene_edit(request: HttpRequest, pk: int) -> HttpResponse:
    scene = _scene(request, pk)
    chapter = scene.chapter
    initial = {
        "scene_number": scene.scene_number,
        "description": scene.description,
        "characters": [str(character.pk) for character in scene.characters.all()],
    }
    form = SceneForm(request.POST or None, story=chapter.story, initial=initial)
    if request.method == "POST" and _save_form(form, lambda **data: services.update_scene(scene=scene, **data)):
        messages.success(request, _("Scene %(number)s saved.") % {"number": scene.scene_number})
        return redirect(f"{_chapter_url(scene)}#scene-{scene.pk}")
    scene.refresh_from_db()
    back = f"{_chapter_url(scene)}#scene-{scene.pk}"
    status = 400 if form.errors else 200
    crumbs = _chapter_crumbs(chapter)
    return _edit_page(request, form=form, title=_("Edit scene"), crumbs=crumbs, back=back, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def scene_delete(request: HttpRequest, pk: int) -> HttpResponse:
    scene = _scene(request, pk)
    if request.method == "POST":
        services.delete_scene(scene=scene)
        messages.success(request, _("Scene %(number)s deleted.") % {"number": scene.scene_number})
        return redirect("scenes:chapter", pk=scene.chapter_id)
    return _confirm_page(
        request,
        title=_("Delete scene %(number)s?") % {"number": scene.scene_number},
        consequence=_("The images already made for it stay in your gallery."),
        crumbs=_chapter_crumbs(scene.chapter),
        back=f"{_chapter_url(scene)}#scene-{scene.pk}",
    )


@login_required
@require_POST
def scene_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move the scene one place up or down in its chapter (the page's buttons; keyboard-reachable forms)."""
    scene = _scene(request, pk)
    try:
        direction = services.SceneMove(request.POST.get("direction", ""))
    except ValueError:
        messages.error(request, _("Choose whether to move the scene up or down."))
        return redirect("scenes:chapter", pk=scene.chapter_id)
    services.move_scene(scene=scene, direction=direction)
    messages.success(request, _("Scene moved: it is now scene %(number)s.") % {"number": scene.scene_number})
    return redirect(f"{_chapter_url(scene)}#scene-{scene.pk}")


@login_required
@require_http_methods(["GET", "POST"])
def character_edit(request: HttpRequest, pk: int) -> HttpResponse:
    character = get_object_or_404(selectors.characters_for(request.user), pk=pk)
    initial = {
        "name": character.name,
        "description": character.description,
        "reference_strength": character.reference_strength,
    }
    form = CharacterEditForm(request.POST or None, request.FILES or None, initial=initial)

    def write(*, reference_image: bytes | None, **data: Any) -> None:
        services.update_character(character=character, reference_png=reference_image, **data)

    if request.method == "POST" and _save_form(form, write):
        messages.success(request, _("%(name)s saved.") % {"name": character.name})
        return redirect("scenes:story", pk=character.story_id)
    character.refresh_from_db()
    reference_url = signed_url(character.reference_image.name) if character.reference_image else None
    return _edit_page(
        request,
        form=form,
        title=_("Edit %(name)s") % {"name": character.name},
        crumbs=_story_crumbs(character.story),
        back=reverse("scenes:story", args=[character.story_id]),
        status=400 if form.errors else 200,
        multipart=True,
        reference_url=reference_url,
        character=character,
    )


@login_required
@require_http_methods(["GET", "POST"])
def character_delete(request: HttpRequest, pk: int) -> HttpResponse:
    character = get_object_or_404(selectors.characters_for(request.user), pk=pk)
    if request.method == "POST":
        services.delete_character(character=character)
        messages.success(request, _("%(name)s left the story.") % {"name": character.name})
        return redirect("scenes:story", pk=character.story_id)
    return _confirm_page(
        request,
        title=_("Delete the character %(name)s?") % {"name": character.name},
        consequence=_("They leave every scene they are in. The images already made stay in your gallery."),
        crumbs=_story_crumbs(character.story),
        back=reverse("scenes:story", args=[character.story_id]),
    )
