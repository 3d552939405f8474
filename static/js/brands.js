// Styles and brand kits on the page: the style picker (at most three, each weight shown), the generate page's kit
// selector ("add the logo" only for a kit whose logo is chosen per job), a brand kit's palette picker and the live
// preview of its logo's placement. The server checks everything again; this only shows it before saving.

// User-facing strings go through Django's JavaScript catalog (base.html loads it first; /i18n/js/).
const gettext = window.gettext || ((text) => text);
const interpolate = window.interpolate || ((format, values) => format.replace(/%\((\w+)\)s/g, (_, key) => String(values[key])));

const MAX_PALETTE = 8;
const HEX = /^#[0-9a-f]{6}$/i;

function setupStylePicker(picker) {
  const max = Number(picker.dataset.maxStyles || 3);
  const boxes = [...picker.querySelectorAll("input[type=checkbox][name=styles]")];
  const limit = picker.querySelector("[data-style-limit]");
  const update = () => {
    const checked = boxes.filter((box) => box.checked).length;
    for (const box of boxes) {
      box.disabled = !box.checked && checked >= max;
      box.closest("[data-style-option]").classList.toggle("is-checked", box.checked);
    }
    if (limit) limit.hidden = checked < max;
  };
  for (const box of boxes) box.addEventListener("change", update);
  for (const range of picker.querySelectorAll("[data-style-weight]")) {
    const output = range.parentElement.querySelector("[data-style-weight-value]");
    range.addEventListener("input", () => {
      output.value = Number(range.value).toString();
      const box = range.closest("[data-style-option]").querySelector("input[type=checkbox]");
      if (!box.checked && !box.disabled) {
        box.checked = true; // moving a weight chooses its style
        update();
      }
    });
  }
  update();
}

// On the generate page: which model the job draws with (its template's, the model picker's, else the default),
// so a style made for another model is marked before the server refuses it.
function setupModelHints(picker) {
  const dataNode = document.getElementById("generate-data");
  const form = picker.closest("form");
  if (!dataNode || !form) return;
  const data = JSON.parse(dataNode.textContent);
  const template = form.elements.namedItem("template");
  const model = form.elements.namedItem("model");
  const update = () => {
    const chosen = template && template.value ? data.templates[template.value] : null;
    const name = (chosen && chosen.model) || (model && model.value && (data.models[model.value] ? model.value : null)) || data.default_model;
    for (const option of picker.querySelectorAll("[data-style-option]")) {
      const other = option.dataset.baseModel !== name;
      option.classList.toggle("is-other-model", other);
      option.querySelector("[data-style-other-model]").hidden = !other;
    }
  };
  for (const control of [template, model]) if (control) control.addEventListener("change", update);
  update();
}

function setupKitSelector() {
  const modesNode = document.getElementById("brand-kit-modes");
  const select = document.getElementById("id_brand_kit");
  const applyField = document.querySelector("[data-apply-logo-field]");
  if (!modesNode || !select || !applyField) return;
  const modes = JSON.parse(modesNode.textContent);
  const update = () => {
    applyField.hidden = modes[select.value] !== "per_job";
  };
  select.addEventListener("change", update);
  update();
}

// --- a brand kit's form ---------------------------------------------------------------------------

function paletteOf(input) {
  return input.value
    .split(/[\s,]+/)
    .map((colour) => colour.trim().toLowerCase())
    .filter((colour) => HEX.test(colour));
}

function setupPalette(form, onChange) {
  const picker = form.querySelector("[data-palette-picker]");
  const input = form.elements.namedItem("palette");
  if (!picker || !input) return () => [];
  const swatches = picker.querySelector("[data-palette-swatches]");
  const add = picker.querySelector("[data-palette-add]");
  add.hidden = false;

  const render = () => {
    const colours = paletteOf(input);
    swatches.replaceChildren();
    colours.forEach((colour, index) => {
      const item = document.createElement("span");
      item.className = "palette-swatch";
      const chooser = document.createElement("input");
      chooser.type = "color";
      chooser.value = colour;
      chooser.setAttribute("aria-label", interpolate(gettext("Colour %(number)s"), { number: index + 1 }, true));
      chooser.addEventListener("input", () => {
        const next = paletteOf(input);
        next[index] = chooser.value.toLowerCase();
        input.value = next.join(", ");
        onChange();
      });
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "icon-btn palette-remove";
      remove.textContent = "×";
      remove.setAttribute("aria-label", interpolate(gettext("Remove colour %(colour)s"), { colour }, true));
      remove.addEventListener("click", () => {
        const next = paletteOf(input);
        next.splice(index, 1);
        input.value = next.join(", ");
        render();
        onChange();
        add.focus();
      });
      item.append(chooser, remove);
      swatches.append(item);
    });
    add.disabled = colours.length >= MAX_PALETTE;
  };
  add.addEventListener("click", () => {
    const colours = paletteOf(input);
    if (colours.length >= MAX_PALETTE) return;
    input.value = [...colours, colours.length ? "#ffffff" : "#4f3fe0"].join(", ");
    render();
    onChange();
    swatches.lastElementChild?.querySelector("input")?.focus();
  });
  input.addEventListener("change", () => {
    render();
    onChange();
  });
  render();
  return () => paletteOf(input);
}

// The same rule as brands.logo.logo_box: width = scale x the image's width (aspect kept), the gap to both edges
// margin x the width, shrunk to fit inside the margins when too big.
export function logoBox(width, height, logoWidth, logoHeight, { corner, margin, scale }) {
  const gap = Math.round(margin * width);
  let w = Math.max(1, Math.round(scale * width));
  let h = Math.max(1, Math.round((w * logoHeight) / logoWidth));
  const roomW = Math.max(1, width - 2 * gap);
  const roomH = Math.max(1, height - 2 * gap);
  if (w > roomW || h > roomH) {
    const fit = Math.min(roomW / w, roomH / h);
    w = Math.max(1, Math.floor(w * fit));
    h = Math.max(1, Math.floor(h * fit));
  }
  const left = corner.endsWith("left") ? gap : width - gap - w;
  const top = corner.startsWith("top") ? gap : height - gap - h;
  return { left, top, width: w, height: h };
}

function drawSample(context, width, height, colours) {
  const palette = colours.length ? colours : ["#7c8db5", "#c9d6ea", "#f3efe6"];
  const gradient = context.createLinearGradient(0, 0, width, height);
  palette.forEach((colour, index) => gradient.addColorStop(palette.length === 1 ? 0 : index / (palette.length - 1), colour));
  context.fillStyle = gradient;
  context.fillRect(0, 0, width, height);
  // A product-shot-like shape, so the logo is seen against an image rather than a flat colour.
  context.fillStyle = "rgb(255 255 255 / 35%)";
  context.beginPath();
  context.ellipse(width * 0.5, height * 0.62, width * 0.22, height * 0.28, 0, 0, Math.PI * 2);
  context.fill();
  context.fillStyle = "rgb(0 0 0 / 18%)";
  context.fillRect(0, height * 0.86, width, height * 0.14);
}

function setupLogoPreview(form) {
  const canvas = form.querySelector("[data-logo-preview]");
  if (!canvas) return;
  const context = canvas.getContext("2d");
  const empty = form.querySelector("[data-logo-preview-empty]");
  const field = (name) => form.elements.namedItem(name);
  const fileInput = field("logo");
  const removeLogo = field("remove_logo");
  let stored = null; // the kit's saved logo
  let chosen = null; // a file picked in this visit
  let palette = () => [];

  const logo = () => (removeLogo && removeLogo.checked && !chosen ? null : chosen || stored);

  const draw = () => {
    const { width, height } = canvas;
    context.clearRect(0, 0, width, height);
    drawSample(context, width, height, palette());
    const image = logo();
    if (empty) empty.hidden = Boolean(image);
    if (!image) {
      canvas.dataset.logoBox = "";
      return;
    }
    const corner = form.querySelector("input[name=logo_corner]:checked")?.value || "bottom-right";
    const box = logoBox(width, height, image.naturalWidth, image.naturalHeight, {
      corner,
      margin: Number(field("logo_margin").value),
      scale: Number(field("logo_scale").value),
    });
    context.globalAlpha = Number(field("logo_opacity").value);
    context.drawImage(image, box.left, box.top, box.width, box.height);
    context.globalAlpha = 1;
    canvas.dataset.logoBox = [box.left, box.top, box.width, box.height].join(",");
  };

  const load = (url) =>
    new Promise((resolve) => {
      const image = new Image();
      image.addEventListener("load", () => resolve(image));
      image.addEventListener("error", () => resolve(null));
      image.src = url;
    });

  for (const name of ["logo_margin", "logo_scale", "logo_opacity"]) {
    const input = field(name);
    const output = form.querySelector(`[data-range-value="${name}"]`);
    input.addEventListener("input", () => {
      if (output) output.value = input.value;
      draw();
    });
  }
  for (const radio of form.querySelectorAll("input[name=logo_corner]")) radio.addEventListener("change", draw);
  if (removeLogo) removeLogo.addEventListener("change", draw);
  if (fileInput) {
    fileInput.addEventListener("change", async () => {
      const file = fileInput.files && fileInput.files[0];
      chosen = file ? await load(URL.createObjectURL(file)) : null;
      draw();
    });
  }
  palette = setupPalette(form, draw);
  draw();
  if (canvas.dataset.logoUrl) {
    load(canvas.dataset.logoUrl).then((image) => {
      stored = image;
      draw();
    });
  }
}

for (const picker of document.querySelectorAll("[data-style-picker]")) {
  setupStylePicker(picker);
  setupModelHints(picker);
}
setupKitSelector();
const kitForm = document.querySelector("[data-kit-form]");
if (kitForm) setupLogoPreview(kitForm);
