from django import template

from ..forms import batch_size_choices as size_choices

register = template.Library()


@register.simple_tag
def batch_size_choices() -> list[tuple[str, str]]:
    """The sizes the generate page's "All channel sizes" block offers, without the generate view passing them."""
    return size_choices()
