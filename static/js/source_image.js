// "Start from an image" on the generate page: drag-and-drop and paste onto the drop zone fill the file input,
// a preview shows the chosen file, and the strength slider shows only once a source is chosen.
// Progressive enhancement: without this script the file input, the gallery select and the slider all still work.

const box = document.querySelector("[data-source-image]");

if (box) {
  const zone = box.querySelector("[data-drop-zone]");
  const fileInput = box.querySelector('input[type="file"]');
  const picker = box.querySelector("select");
  const strength = box.querySelector("[data-strength-field]");
  const slider = strength ? strength.querySelector('input[type="range"]') : null;
  const shown = strength ? strength.querySelector("[data-strength-value]") : null;
  const preview = box.querySelector("[data-source-preview]");
  let previewUrl = null;

  box.querySelector("[data-drop-hint]").hidden = false;

  function update() {
    const file = fileInput.files && fileInput.files[0];
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = file ? URL.createObjectURL(file) : null;
    preview.hidden = !previewUrl;
    if (previewUrl) preview.src = previewUrl;
    else preview.removeAttribute("src");
    if (strength) strength.hidden = !(file || (picker && picker.value));
  }

  function useFile(file) {
    if (!file || !file.type.startsWith("image/")) return false;
    const transfer = new DataTransfer();
    transfer.items.add(file);
    fileInput.files = transfer.files;
    if (picker) picker.value = ""; // one source: the upload replaces a gallery pick
    update();
    return true;
  }

  fileInput.addEventListener("change", () => {
    if (fileInput.files.length && picker) picker.value = "";
    update();
  });
  if (picker) {
    picker.addEventListener("change", () => {
      if (picker.value) fileInput.value = "";
      update();
    });
  }
  if (slider && shown) slider.addEventListener("input", () => (shown.textContent = slider.value));

  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (event) => {
      event.preventDefault();
      zone.classList.add("is-dragging");
    });
  }
  for (const name of ["dragleave", "drop"]) {
    zone.addEventListener(name, () => zone.classList.remove("is-dragging"));
  }
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    useFile(event.dataTransfer && event.dataTransfer.files[0]);
  });

  // A paste anywhere on the page outside a text field (or on the focused drop zone) offers its image.
  document.addEventListener("paste", (event) => {
    const target = event.target;
    const typing = target instanceof HTMLElement && target.closest("textarea, input:not([type=file])");
    if (typing && !zone.contains(target)) return;
    const item = [...(event.clipboardData ? event.clipboardData.items : [])].find(
      (entry) => entry.kind === "file" && entry.type.startsWith("image/"),
    );
    if (item && useFile(item.getAsFile())) event.preventDefault();
  });

  update();
}
