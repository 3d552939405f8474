// Generate form: follows the chosen template's limits and shows the cost and time estimate as the user types.
// The server checks everything again; this only saves a round trip.

// User-facing strings go through Django's JavaScript catalog (base.html loads it first; /i18n/js/).
const gettext = window.gettext || ((text) => text);
const ngettext = window.ngettext || ((one, many, count) => (count === 1 ? one : many));
const interpolate = window.interpolate || ((format, values) => format.replace(/%\((\w+)\)s/g, (_, key) => String(values[key])));

const dataNode = document.getElementById("generate-data");
const form = document.querySelector("[data-generate-form]");

if (dataNode && form) {
  const data = JSON.parse(dataNode.textContent);
  const field = (name) => form.elements.namedItem(name);
  const template = field("template");
  const path = field("production_path");
  const sizePreset = field("size_preset");
  const numImages = field("num_images");
  const steps = field("steps");
  const guidance = field("guidance");
  const seed = field("seed");
  const negative = field("negative_prompt");
  const modelChoice = field("model");
  const out = (name) => document.querySelector(`[data-${name}]`);

  const formatSeconds = (value) => {
    if (value < 10) return interpolate(gettext("%(seconds)s s"), { seconds: value.toFixed(1) }, true);
    if (value < 60) return interpolate(gettext("%(seconds)s s"), { seconds: Math.round(value) }, true);
    const minutes = Math.floor(value / 60);
    const rest = Math.round(value % 60);
    return rest
      ? interpolate(gettext("%(minutes)s min %(seconds)s s"), { minutes, seconds: rest }, true)
      : interpolate(gettext("%(minutes)s min"), { minutes }, true);
  };

  const current = () => (template.value ? data.templates[template.value] : null);

  // A template draws with its own model; without one, the model picked under advanced settings (a short name).
  function modelFor(chosen) {
    const picked = modelChoice && modelChoice.value ? data.model_aliases[modelChoice.value] || modelChoice.value : "";
    const name = chosen ? chosen.model : picked || data.default_model;
    return { name, ...data.models[name] };
  }

  // Only the chosen template's declared inputs are shown and sent (the others' fieldsets are disabled).
  function swapInputs() {
    for (const group of form.querySelectorAll("[data-template-inputs]")) {
      const shown = group.dataset.templateInputs === template.value;
      group.hidden = !shown;
      group.disabled = !shown;
    }
  }

  function defaultSize(chosen) {
    if (chosen) return [chosen.defaults.width, chosen.defaults.height];
    const pathSize = data.paths[path.value] || { width: 1024, height: 1024 };
    return [pathSize.width, pathSize.height];
  }

  function allows(chosen, name) {
    return !chosen || chosen.overridable.includes(name);
  }

  function setEnabled(input, enabled, reason) {
    if (!input) return;
    input.disabled = !enabled;
    const wrapper = input.closest(".field");
    let note = wrapper && wrapper.querySelector("[data-locked-note]");
    if (!enabled && wrapper && !note) {
      note = document.createElement("p");
      note.className = "help";
      note.dataset.lockedNote = "";
      wrapper.append(note);
    }
    if (note) {
      note.hidden = enabled;
      note.textContent = enabled ? "" : reason;
    }
  }

  function applyTemplate() {
    const chosen = current();
    const model = modelFor(chosen);
    const locked = chosen ? interpolate(gettext("Fixed by the %(name)s template."), { name: chosen.name }, true) : "";
    if (chosen && path.value !== chosen.path) path.value = chosen.path;
    setEnabled(negative, allows(chosen, "negative_prompt"), locked);
    setEnabled(seed, allows(chosen, "seed"), locked);
    setEnabled(steps, allows(chosen, "steps"), locked);
    setEnabled(guidance, allows(chosen, "guidance"), locked);
    setEnabled(modelChoice, !chosen, locked);
    swapInputs();
    setEnabled(sizePreset, allows(chosen, "width") && allows(chosen, "height"), locked);
    const bounds = (chosen && chosen.bounds) || {};
    const stepRange = bounds.steps || [1, model.max_steps];
    const guidanceRange = bounds.guidance || [0, model.max_guidance];
    steps.min = stepRange[0];
    steps.max = stepRange[1];
    guidance.min = guidanceRange[0];
    guidance.max = guidanceRange[1];
    const defaultSteps = chosen ? chosen.defaults.steps : model.default_steps;
    const defaultGuidance = chosen ? chosen.defaults.guidance : model.default_guidance;
    steps.placeholder = interpolate(gettext("Default %(value)s"), { value: defaultSteps }, true);
    guidance.placeholder = interpolate(gettext("Default %(value)s"), { value: defaultGuidance }, true);
    const maxImages = Math.min(chosen ? chosen.max_images : 4, 4);
    for (const option of numImages.options) option.disabled = Number(option.value) > maxImages;
    if (Number(numImages.value) > maxImages) numImages.value = String(maxImages);
    const [width, height] = defaultSize(chosen);
    const defaultOption = sizePreset.querySelector("option[value='']");
    if (defaultOption) {
      const label = chosen ? gettext("Template default · %(width)s×%(height)s") : gettext("Path default · %(width)s×%(height)s");
      defaultOption.textContent = interpolate(label, { width, height }, true);
    }
    const range = { model: model.label, low: stepRange[0], high: stepRange[1], gLow: guidanceRange[0], gHigh: guidanceRange[1] };
    out("limits").textContent =
      chosen && Object.keys(bounds).length
        ? interpolate(gettext("%(model)s: steps %(low)s–%(high)s, guidance %(gLow)s–%(gHigh)s (the %(name)s template's range)."), { ...range, name: chosen.name }, true)
        : interpolate(gettext("%(model)s: steps %(low)s–%(high)s, guidance %(gLow)s–%(gHigh)s."), range, true);
    // A template that starts from the customer's image asks for one; one that extends it says so to the painter.
    out("source-required").hidden = !(chosen && chosen.requires_source);
    out("source-optional").hidden = Boolean(chosen && chosen.requires_source);
    form.dataset.templateExtends = chosen && chosen.extends ? "1" : "";
    form.dispatchEvent(new Event("template-changed"));
    out("template-description").textContent = chosen
      ? interpolate(ngettext("%(name)s: %(description)s %(cost)s credit per image.", "%(name)s: %(description)s %(cost)s credits per image.", chosen.cost), chosen, true)
      : gettext("No template: the production path's own style words and defaults, 1 credit per image.");
    updateEstimate();
  }

  // The cost, output size and time come from the server (generation:generate-estimate), priced by the same
  // job_price and output-size rules as the submit, for the fields as they stand: text, from an image, a painted
  // region, an extended canvas.
  let pending = null;
  let timer = null;
  const unknown = () => {
    for (const name of ["estimate-cost", "estimate-time", "estimate-after", "estimate-model", "estimate-size"]) out(name).textContent = "–";
  };

  async function fetchEstimate() {
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (value instanceof File || ["csrfmiddlewaretoken", "mask", "prompt", "negative_prompt"].includes(name)) continue;
      params.append(name, value);
    }
    if (!params.get("source_image") && form.dataset.sourceWidth) {
      params.set("source_width", form.dataset.sourceWidth);
      params.set("source_height", form.dataset.sourceHeight);
    }
    if (form.dataset.maskPainted) params.set("mask", "on");
    if (pending) pending.abort();
    pending = new AbortController();
    let answer;
    let body;
    try {
      answer = await fetch(`${form.dataset.estimateUrl}?${params}`, {
        signal: pending.signal,
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      body = await answer.json();
    } catch (error) {
      if (error.name === "AbortError") return;
      unknown();
      return;
    }
    const warning = out("estimate-warning");
    if (!answer.ok) {
      unknown();
      const messages = Object.values(body.errors || {}).flat().map((entry) => entry.message);
      warning.hidden = !messages.length;
      warning.textContent = messages.join(" ");
      return;
    }
    form.dataset.estimateMode = body.mode;
    out("estimate-cost").textContent = String(body.cost);
    out("estimate-time").textContent = `~${formatSeconds(body.seconds)}`;
    out("estimate-after").textContent = body.after_text;
    out("estimate-model").textContent = body.model_text;
    out("estimate-size").textContent = body.size_text;
    warning.hidden = !body.warning;
    warning.textContent = body.warning;
  }

  function updateEstimate() {
    clearTimeout(timer);
    timer = setTimeout(fetchEstimate, 120);
  }

  template.addEventListener("change", applyTemplate);
  path.addEventListener("change", () => {
    const chosen = current();
    if (chosen && chosen.path !== path.value) template.value = "";
    applyTemplate();
  });
  if (modelChoice) modelChoice.addEventListener("change", applyTemplate);
  for (const input of [sizePreset, numImages, steps]) {
    input.addEventListener("input", updateEstimate);
    input.addEventListener("change", updateEstimate);
  }
  form.addEventListener("source-changed", updateEstimate);
  applyTemplate();
}
