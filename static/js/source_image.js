// "Start from an image" on the generate page: drag-and-drop and paste onto the drop zone fill the file input,
// the mask painter shows the chosen image, and the strength slider shows only once a source is chosen.
// Progressive enhancement: without this script the file input, the gallery select and the slider all still work.

const box = document.querySelector("[data-source-image]");

if (box) {
  const zone = box.querySelector("[data-drop-zone]");
  const fileInput = box.querySelector('input[type="file"]');
  const picker = box.querySelector("select");
  const strength = box.querySelector("[data-strength-field]");
  const slider = strength ? strength.querySelector('input[type="range"]') : null;
  const shown = strength ? strength.querySelector("[data-strength-value]") : null;
  let previewUrl = null;
  const urlsNode = document.getElementById("source-urls");
  const sourceUrls = urlsNode ? JSON.parse(urlsNode.textContent) : {};
  const painter = maskPainter(box);

  box.querySelector("[data-drop-hint]").hidden = false;

  function update() {
    const file = fileInput.files && fileInput.files[0];
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = file ? URL.createObjectURL(file) : null;
    if (strength) strength.hidden = !(file || (picker && picker.value));
    painter.load(previewUrl || (picker && sourceUrls[picker.value]) || null);
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
  let strengthTouched = false;
  if (slider && shown) {
    slider.addEventListener("input", () => {
      strengthTouched = true;
      shown.textContent = slider.value;
    });
    // A painted region is redrawn in full unless the user says otherwise (the API's inpaint default is 1).
    box.addEventListener("mask-painted", () => {
      if (strengthTouched) return;
      slider.value = "1";
      shown.textContent = slider.value;
    });
  }

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

// The mask painter: white strokes on a transparent canvas the size of the source image; sent as a PNG data URL
// (black = keep, white = repaint) in the hidden `mask` field, only when something is painted.
function maskPainter(box) {
  const root = box.querySelector("[data-mask-painter]");
  const hidden = box.ownerDocument.querySelector('input[name="mask"]');
  if (!root || !hidden) return { load() {} };
  const image = root.querySelector("[data-mask-image]");
  const canvas = root.querySelector("[data-mask-canvas]");
  const brush = root.querySelector("[data-mask-brush]");
  const context = canvas.getContext("2d");
  const history = [];
  let tool = "paint";
  let drawing = false;
  let last = null;
  let current = null;

  const painted = () => {
    if (!canvas.width) return false;
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i]) return true;
    return false;
  };

  function save() {
    history.push(context.getImageData(0, 0, canvas.width, canvas.height));
    if (history.length > 30) history.shift();
  }

  function point(event) {
    const rect = canvas.getBoundingClientRect();
    return [((event.clientX - rect.left) * canvas.width) / rect.width, ((event.clientY - rect.top) * canvas.height) / rect.height];
  }

  function stroke(to) {
    const scale = canvas.width / canvas.getBoundingClientRect().width || 1;
    context.globalCompositeOperation = tool === "erase" ? "destination-out" : "source-over";
    context.strokeStyle = context.fillStyle = "#fff";
    context.lineWidth = Number(brush.value) * scale;
    context.lineCap = context.lineJoin = "round";
    context.beginPath();
    context.moveTo(...(last || to));
    context.lineTo(...to);
    context.stroke();
    last = to;
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (!canvas.width) return;
    save();
    drawing = true;
    last = null;
    canvas.setPointerCapture(event.pointerId);
    stroke(point(event));
    box.dispatchEvent(new Event("mask-painted"));
  });
  canvas.addEventListener("pointermove", (event) => drawing && stroke(point(event)));
  for (const name of ["pointerup", "pointercancel"]) canvas.addEventListener(name, () => (drawing = false));

  for (const button of root.querySelectorAll("[data-mask-tool]")) {
    button.addEventListener("click", () => {
      tool = button.dataset.maskTool;
      for (const other of root.querySelectorAll("[data-mask-tool]")) other.setAttribute("aria-pressed", String(other === button));
    });
  }
  root.querySelector("[data-mask-undo]").addEventListener("click", () => {
    const previous = history.pop();
    if (previous) context.putImageData(previous, 0, 0);
  });
  root.querySelector("[data-mask-clear]").addEventListener("click", () => {
    save();
    context.clearRect(0, 0, canvas.width, canvas.height);
  });
  root.querySelector("[data-mask-invert]").addEventListener("click", () => {
    save();
    const data = context.getImageData(0, 0, canvas.width, canvas.height);
    for (let i = 0; i < data.data.length; i += 4) {
      data.data[i] = data.data[i + 1] = data.data[i + 2] = 255;
      data.data[i + 3] = 255 - data.data[i + 3];
    }
    context.putImageData(data, 0, 0);
  });

  box.closest("form").addEventListener("submit", () => {
    if (root.hidden || !painted()) {
      hidden.value = "";
      return;
    }
    const out = document.createElement("canvas");
    out.width = canvas.width;
    out.height = canvas.height;
    const outContext = out.getContext("2d");
    outContext.fillStyle = "#000";
    outContext.fillRect(0, 0, out.width, out.height);
    outContext.drawImage(canvas, 0, 0);
    hidden.value = out.toDataURL("image/png");
  });

  return {
    load(url) {
      if (url === current) return;
      current = url;
      history.length = 0;
      root.hidden = !url;
      if (!url) {
        canvas.width = canvas.height = 0;
        image.removeAttribute("src");
        return;
      }
      image.onload = () => {
        canvas.width = image.naturalWidth;
        canvas.height = image.naturalHeight;
      };
      image.src = url;
    },
  };
}
