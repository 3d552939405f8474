// A character's reference image: the chosen file is shown before it is uploaded, in place of the current one.
const input = document.querySelector("[data-reference-input]");
const preview = document.querySelector("[data-reference-preview]");
const caption = document.querySelector("[data-reference-caption]");
if (input && preview) {
  let url = null;
  const original = { src: preview.getAttribute("src"), hidden: preview.hidden, caption: caption ? caption.textContent : "" };
  input.addEventListener("change", () => {
    if (url) URL.revokeObjectURL(url);
    const file = input.files && input.files[0];
    url = file && file.type.startsWith("image/") ? URL.createObjectURL(file) : null;
    if (url) {
      preview.src = url;
      preview.hidden = false;
      if (caption) caption.textContent = caption.dataset.textNew;
    } else {
      preview.src = original.src || "";
      preview.hidden = original.hidden;
      if (caption) caption.textContent = original.caption;
    }
  });
}
