// "Start from an image" on the generate page: drag-and-drop and paste onto the drop zone fill the file input,
// the mask painter shows the chosen image, and the strength slider and "Extend to" picker show only once a source
// is chosen. Progressive enhancement: without this script the file input, the selects and the slider all work.
// The estimate (generate.js) hears about the source and the mask through the form's data attributes and a
// "source-changed" event.

const box = document.querySelector("[data-source-image]");

if (box) {
  const form = box.closest("form");
  const zone = box.querySelector("[data-drop-zone]");
  const fileInput = box.querySelector('input[type="file"]');
  const picker = box.querySelector('select[name="source_image"]');
  const strength = box.querySelector("[data-strength-field]");
  const slider = strength ? strength.querySelector('input[type="range"]') : null;
  const shown = strength ? strength.querySelector("[data-strength-value]") : null;
  const extendField = box.querySelector("[data-extend-field]");
  const extendTo = box.querySelector('select[name="extend_to"]');
  const extendAnchor = box.querySelector("[data-extend-anchor]");
  let previewUrl = null;
  const urlsNode = document.getElementById("source-urls");
  const sourceUrls = urlsNode ? JSON.parse(urlsNode.textContent) : {};
  const painter = maskPainter(box, () => changed());

  box.querySelector("[data-drop-hint]").hidden = false;

  const hasSource = () => Boolean((fileInput.files && fileInput.files[0]) || (picker && picker.value));
  const extending = () => Boolean(extendTo && extendTo.value);

  // What the estimate needs: the source's pixel size (an upload not yet sent), whether a region is painted.
  function changed() {
    const size = painter.size();
    form.dataset.sourceWidth = size ? String(size[0]) : "";
    form.dataset.sourceHeight = size ? String(size[1]) : "";
    form.dataset.maskPainted = !extending() && painter.painted() ? "1" : "";
    // An extended canvas is drawn in full, and so is a template's own canvas unless a region is painted.
    const templateExtends = form.dataset.templateExtends === "1" && !form.dataset.maskPainted;
    if (strength) strength.hidden = !hasSource() || extending() || templateExtends;
    form.dispatchEvent(new Event("source-changed"));
  }

  function update() {
    const file = fileInput.files && fileInput.files[0];
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = file ? URL.createObjectURL(file) : null;
    if (extendField) extendField.hidden = !hasSource();
    if (extendAnchor) extendAnchor.hidden = !extending();
    painter.load(previewUrl || (picker && sourceUrls[picker.value]) || null);
    // A mask repaints a region of the image as it is; an extended canvas has no such region.
    painter.show(!extending());
    changed();
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
  if (extendTo) extendTo.addEventListener("change", update);
  form.addEventListener("template-changed", changed);
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
  // Edit region (from the image page): the painter opens on the prefilled image, focused for the keyboard.
  if (form.hasAttribute("data-edit-region")) painter.whenLoaded(() => painter.focus());
}

// The mask painter: white strokes on a transparent canvas the size of the source image; sent as a PNG data URL
// (black = keep, white = repaint) in the hidden `mask` field, only when something is painted. A mouse, pen or
// finger paints directly; the keyboard moves a visible brush cursor (arrows), paints with Space held, and has
// keys for the tools (the page lists them next to the canvas).
function maskPainter(box, onChange) {
  const root = box.querySelector("[data-mask-painter]");
  const hidden = box.ownerDocument.querySelector('input[name="mask"]');
  if (!root || !hidden) return { load() {}, show() {}, size: () => null, painted: () => false, whenLoaded() {}, focus() {} };
  const image = root.querySelector("[data-mask-image]");
  const canvas = root.querySelector("[data-mask-canvas]");
  const cursor = root.querySelector("[data-mask-cursor]");
  const brush = root.querySelector("[data-mask-brush]");
  const brushShown = root.querySelector("[data-mask-brush-value]");
  const status = root.querySelector("[data-mask-status]");
  const context = canvas.getContext("2d");
  const history = [];
  const loaded = [];
  let tool = "paint";
  let drawing = false;
  let last = null;
  let current = null;
  let spaceDown = false;
  let keyPoint = null; // the keyboard's brush position, in canvas pixels

  const say = (text) => {
    if (status) status.textContent = text;
  };
  const scale = () => canvas.width / canvas.getBoundingClientRect().width || 1;

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
    context.globalCompositeOperation = tool === "erase" ? "destination-out" : "source-over";
    context.strokeStyle = context.fillStyle = "#fff";
    context.lineWidth = Number(brush.value) * scale();
    context.lineCap = context.lineJoin = "round";
    context.beginPath();
    context.moveTo(...(last || to));
    context.lineTo(...to);
    context.stroke();
    last = to;
  }

  function startStroke(at) {
    save();
    last = null;
    stroke(at);
    box.dispatchEvent(new Event("mask-painted"));
  }

  // The brush cursor: a ring of the brush's size where the next dab lands (keyboard) or under the pointer.
  function showCursor(at) {
    if (!cursor || !at) return;
    const ratio = scale();
    const size = Number(brush.value);
    cursor.hidden = false;
    cursor.style.width = cursor.style.height = `${size}px`;
    cursor.style.left = `${at[0] / ratio - size / 2}px`;
    cursor.style.top = `${at[1] / ratio - size / 2}px`;
    cursor.classList.toggle("is-erasing", tool === "erase");
  }

  function setTool(name) {
    tool = name;
    for (const other of root.querySelectorAll("[data-mask-tool]")) other.setAttribute("aria-pressed", String(other.dataset.maskTool === name));
    showCursor(keyPoint);
    say(root.dataset[name === "erase" ? "textErase" : "textPaint"] || name);
  }

  function setBrush(value) {
    brush.value = String(Math.max(Number(brush.min), Math.min(Number(brush.max), value)));
    if (brushShown) brushShown.textContent = brush.value;
    showCursor(keyPoint);
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (!canvas.width) return;
    drawing = true;
    canvas.setPointerCapture(event.pointerId);
    startStroke(point(event));
  });
  canvas.addEventListener("pointermove", (event) => {
    if (event.pointerType === "mouse") showCursor(point(event));
    if (drawing) stroke(point(event));
  });
  canvas.addEventListener("pointerleave", () => {
    if (cursor && !keyPoint) cursor.hidden = true;
  });
  for (const name of ["pointerup", "pointercancel"]) {
    canvas.addEventListener(name, () => {
      if (drawing) onChange();
      drawing = false;
    });
  }

  const MOVES = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  function keyboardCursor() {
    if (!canvas.width) return;
    keyPoint = keyPoint || [canvas.width / 2, canvas.height / 2];
    showCursor(keyPoint);
  }
  canvas.addEventListener("focus", keyboardCursor);
  canvas.addEventListener("blur", () => {
    spaceDown = false;
    if (cursor) cursor.hidden = true;
  });
  canvas.addEventListener("keydown", (event) => {
    if (!canvas.width) return;
    keyboardCursor();
    const key = event.key;
    if (MOVES[key]) {
      event.preventDefault();
      const stepPx = (event.shiftKey ? 32 : 8) * scale();
      const [dx, dy] = MOVES[key];
      keyPoint = [
        Math.max(0, Math.min(canvas.width, keyPoint[0] + dx * stepPx)),
        Math.max(0, Math.min(canvas.height, keyPoint[1] + dy * stepPx)),
      ];
      if (spaceDown) stroke(keyPoint);
      showCursor(keyPoint);
    } else if (key === " ") {
      event.preventDefault();
      if (!spaceDown) {
        spaceDown = true;
        startStroke(keyPoint);
      }
    } else if (key === "[" || key === "]") {
      event.preventDefault();
      setBrush(Number(brush.value) + (key === "]" ? 8 : -8));
      say(`${root.dataset.textSize || "Brush size"}: ${brush.value}`);
    } else if ((key === "z" || key === "Z") && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      undo();
    } else if (event.ctrlKey || event.metaKey || event.altKey) {
      return;
    } else if (key === "e" || key === "E") {
      setTool(tool === "erase" ? "paint" : "erase");
    } else if (key === "b" || key === "B") {
      setTool("paint");
    } else if (key === "i" || key === "I") {
      invert();
    }
  });
  canvas.addEventListener("keyup", (event) => {
    if (event.key === " " && spaceDown) {
      spaceDown = false;
      onChange();
    }
  });

  function undo() {
    const previous = history.pop();
    if (previous) context.putImageData(previous, 0, 0);
    say(root.dataset.textUndo || "Undone");
    onChange();
  }

  function invert() {
    save();
    const data = context.getImageData(0, 0, canvas.width, canvas.height);
    for (let i = 0; i < data.data.length; i += 4) {
      data.data[i] = data.data[i + 1] = data.data[i + 2] = 255;
      data.data[i + 3] = 255 - data.data[i + 3];
    }
    context.putImageData(data, 0, 0);
    if (painted()) box.dispatchEvent(new Event("mask-painted"));
    say(root.dataset.textInvert || "Inverted");
    onChange();
  }

  for (const button of root.querySelectorAll("[data-mask-tool]")) {
    button.addEventListener("click", () => setTool(button.dataset.maskTool));
  }
  brush.addEventListener("input", () => setBrush(Number(brush.value)));
  root.querySelector("[data-mask-undo]").addEventListener("click", undo);
  root.querySelector("[data-mask-clear]").addEventListener("click", () => {
    save();
    context.clearRect(0, 0, canvas.width, canvas.height);
    say(root.dataset.textClear || "Cleared");
    onChange();
  });
  root.querySelector("[data-mask-invert]").addEventListener("click", invert);

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
      keyPoint = null;
      root.hidden = !url;
      if (cursor) cursor.hidden = true;
      if (!url) {
        canvas.width = canvas.height = 0;
        image.removeAttribute("src");
        return;
      }
      canvas.width = canvas.height = 0; // until the image is in: a canvas's default 300×150 is no image's size
      image.onload = () => {
        canvas.width = image.naturalWidth;
        canvas.height = image.naturalHeight;
        onChange();
        for (const callback of loaded.splice(0)) callback();
      };
      image.src = url;
    },
    show(visible) {
      root.hidden = !current || !visible;
    },
    size: () => (canvas.width ? [canvas.width, canvas.height] : null),
    painted,
    whenLoaded(callback) {
      if (canvas.width) callback();
      else loaded.push(callback);
    },
    focus() {
      root.scrollIntoView({ block: "start" });
      canvas.focus({ preventScroll: true });
      keyboardCursor();
    },
  };
}
