// The generate page's preset picker: insert the chosen preset into the prompt or the negative prompt (by the
// preset's kind) where the cursor last was, separated by a comma. Without JavaScript the picker stays hidden.
const picker = document.querySelector("[data-preset-picker]");
if (picker) {
  picker.hidden = false;
  const select = picker.querySelector("[data-preset-select]");
  const button = picker.querySelector("[data-preset-insert]");
  const status = picker.querySelector("[data-preset-status]");
  const form = picker.closest("form");

  // A field the user has been in keeps its caret (a textarea remembers it after losing focus); a field never
  // visited gets the text at its end.
  const visited = new Set();
  for (const field of form ? form.querySelectorAll("[name=prompt], [name=negative_prompt]") : []) {
    for (const type of ["focus", "keyup", "click", "select", "input"]) field.addEventListener(type, () => visited.add(field));
  }

  function insert(field, text) {
    const value = field.value;
    const [start, end] = visited.has(field) ? [field.selectionStart, field.selectionEnd] : [value.length, value.length];
    const before = value.slice(0, start).replace(/[\s,]+$/, "");
    const after = value.slice(end).replace(/^[\s,]+/, "");
    const joined = [before, text, after].filter((part) => part).join(", ");
    field.value = joined;
    const caret = (before ? before.length + 2 : 0) + text.length;
    field.focus();
    field.setSelectionRange(caret, caret);
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }

  if (select && button && form) {
    button.addEventListener("click", () => {
      const option = select.selectedOptions[0];
      if (!option || !option.value) {
        select.focus();
        return;
      }
      const name = option.dataset.kind === "negative" ? "negative_prompt" : "prompt";
      const field = form.querySelector(`textarea[name="${name}"], input[name="${name}"]`);
      if (!field) return;
      insert(field, option.dataset.text);
      if (status) status.textContent = status.dataset.textInserted;
    });
  }
}
