// Gallery multi-select: select all, a live count, and the folder picker only for "Move to folder".
// User-facing strings go through Django's JavaScript catalog (base.html loads it first; /i18n/js/).
const gettext = window.gettext || ((text) => text);
const ngettext = window.ngettext || ((one, many, count) => (count === 1 ? one : many));
const interpolate = window.interpolate || ((format, values) => format.replace(/%\((\w+)\)s/g, (_, key) => String(values[key])));
// Without JavaScript the same form still works: tick images, pick an action, Apply.

const form = document.getElementById("bulk-form");
if (form) {
  const boxes = () => [...document.querySelectorAll("[data-select]")];
  const selectAll = form.querySelector("[data-select-all]");
  const count = form.querySelector("[data-selected-count]");
  const action = form.querySelector("[data-bulk-action]");
  const folder = form.querySelector("[data-bulk-folder]");
  const tags = form.querySelector("[data-bulk-tags]");
  const submit = form.querySelector("[data-bulk-submit]");
  for (const node of form.querySelectorAll("[data-js-only]")) node.hidden = false;

  function refresh() {
    const all = boxes();
    const selected = all.filter((box) => box.checked);
    for (const box of all) box.closest("[data-tile]").classList.toggle("is-selected", box.checked);
    count.textContent = selected.length
      ? interpolate(gettext("%(count)s selected"), { count: selected.length }, true)
      : gettext("Tick images to act on several at once.");
    submit.disabled = selected.length === 0;
    form.classList.toggle("has-selection", selected.length > 0);
    if (selectAll) {
      selectAll.checked = selected.length > 0 && selected.length === all.length;
      selectAll.indeterminate = selected.length > 0 && selected.length < all.length;
    }
    folder.hidden = action.value !== "move";
    folder.disabled = action.value !== "move";
    if (tags) {
      tags.hidden = action.value !== "tag";
      tags.disabled = action.value !== "tag";
    }
  }

  // Shift with a click or with Space ticks every box between the last one changed and this one, like a file list.
  let anchor = null;
  let shiftHeld = false;
  document.addEventListener("keydown", (event) => (shiftHeld = event.shiftKey));
  document.addEventListener("keyup", (event) => (shiftHeld = event.shiftKey));
  document.addEventListener("click", (event) => {
    if (event.target.matches && event.target.matches("[data-select]")) shiftHeld = shiftHeld || event.shiftKey;
  }, true);
  document.addEventListener("change", (event) => {
    if (!event.target.matches("[data-select]")) return;
    const all = boxes();
    const here = all.indexOf(event.target);
    if (shiftHeld && anchor !== null && anchor !== here && all[anchor]) {
      const [from, to] = anchor < here ? [anchor, here] : [here, anchor];
      for (const box of all.slice(from, to + 1)) box.checked = event.target.checked;
    }
    anchor = here;
    shiftHeld = false;
    refresh();
  });
  if (selectAll) {
    selectAll.addEventListener("change", () => {
      for (const box of boxes()) box.checked = selectAll.checked;
      refresh();
    });
  }
  action.addEventListener("change", refresh);
  form.addEventListener("submit", (event) => {
    const selected = boxes().filter((box) => box.checked).length;
    if (action.value === "trash" && !window.confirm(interpolate(ngettext("Move %(count)s image to the trash?", "Move %(count)s images to the trash?", selected), { count: selected }, true))) {
      event.preventDefault();
      return;
    }
    if (action.value === "download") {
      // A zip download does not leave the page: let the user run another action afterwards.
      setTimeout(() => (submit.disabled = false), 1000);
    }
  });
  refresh();
}
