// The generate page's "All channel sizes" block: the batch's total cost before submit, from the page's own
// per-job estimate ([data-estimate-cost], kept current by generate.js) times the sizes ticked.
const block = document.querySelector("[data-batch-sizes]");
const estimate = document.querySelector("[data-estimate-cost]");
const total = block && block.querySelector("[data-batch-total]");

function update() {
  const perJob = Number.parseInt(estimate ? estimate.textContent : "", 10);
  const sizes = block.querySelectorAll("[data-batch-size]:checked").length;
  total.textContent = Number.isFinite(perJob) ? String(perJob * sizes) : "–";
}

if (block && total) {
  block.addEventListener("change", update);
  if (estimate) new MutationObserver(update).observe(estimate, { childList: true, characterData: true, subtree: true });
  update();
}
