"""An animated upload is refused for what it is (audit issue 17, also noticed), not as "too large: 8x8"."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from gallery.uploads import clean_uploaded_image


def test_an_animated_image_is_refused_for_being_animated_not_for_its_size():
    frames = [Image.new("RGB", (8, 8), color) for color in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="PNG", save_all=True, append_images=frames[1:])

    with pytest.raises(ValidationError) as refused:
        clean_uploaded_image(buffer.getvalue())

    assert refused.value.code == "animated"
    assert "Animated" in refused.value.messages[0] and "too large" not in refused.value.messages[0]
