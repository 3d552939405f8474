// Site-wide behaviour: navigation, theme toggle, CSRF-aware fetch, confirmations, copy buttons, auto-submit filters.
// User-facing strings go through Django's JavaScript catalog (base.html loads it first; /i18n/js/).
const gettext = window.gettext || ((text) => text);

export function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (input) return input.value;
  const meta = document.querySelector("meta[name=csrf-token]");
  return meta ? meta.content : "";
}

export async function postForm(url, data) {
  return fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRFToken": csrfToken(), "X-Requested-With": "fetch" },
    body: data,
  });
}

function effectiveTheme() {
  const chosen = document.documentElement.getAttribute("data-theme");
  if (chosen) return chosen;
  return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

function labelThemeToggle(button) {
  const next = effectiveTheme() === "dark" ? "light" : "dark";
  const label = next === "dark" ? gettext("Switch to dark theme") : gettext("Switch to light theme");
  button.setAttribute("aria-label", label);
  button.setAttribute("title", label);
}

function setupThemeToggle() {
  const button = document.querySelector("[data-theme-toggle]");
  if (!button) return;
  labelThemeToggle(button);
  button.addEventListener("click", () => {
    const next = effectiveTheme() === "dark" ? "light" : "dark";
    document.documentElement.setAttribute("data-theme", next);
    try {
      window.localStorage.setItem("zimage-theme", next);
    } catch (error) {
      // Not stored: the choice lasts for this page only.
    }
    labelThemeToggle(button);
  });
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => labelThemeToggle(button));
}

function setupNavToggle() {
  const button = document.querySelector("[data-nav-toggle]");
  const nav = document.getElementById("site-nav");
  if (!button || !nav) return;
  button.addEventListener("click", () => {
    const open = nav.classList.toggle("is-open");
    button.setAttribute("aria-expanded", String(open));
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && nav.classList.contains("is-open")) {
      nav.classList.remove("is-open");
      button.setAttribute("aria-expanded", "false");
      button.focus();
    }
  });
}

function setupConfirmations() {
  document.addEventListener("submit", (event) => {
    const form = event.target;
    const submitter = event.submitter;
    const message = (submitter && submitter.dataset.confirm) || form.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });
}

function setupCopyButtons() {
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      if (!source) return;
      const text = source.value !== undefined ? source.value : source.textContent;
      try {
        await navigator.clipboard.writeText(text.trim());
        const original = button.textContent;
        button.textContent = gettext("Copied");
        setTimeout(() => (button.textContent = original), 1500);
      } catch (error) {
        if (window.getSelection && document.createRange) {
          const range = document.createRange();
          range.selectNodeContents(source);
          const selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
        }
      }
    });
  }
}

function setupAutoSubmit() {
  for (const field of document.querySelectorAll("[data-autosubmit]")) {
    field.addEventListener("change", () => field.form && field.form.requestSubmit());
  }
  for (const button of document.querySelectorAll("[data-js-hide]")) button.hidden = true;
}

setupThemeToggle();
setupNavToggle();
setupConfirmations();
setupCopyButtons();
setupAutoSubmit();
