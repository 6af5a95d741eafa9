// Small page behaviours that need no framework. No inline scripts: the CSP forbids them.
(() => {
  "use strict";

  // The team switcher posts to the chosen team's switch URL.
  document.addEventListener("change", (event) => {
    const select = event.target.closest("[data-team-switcher]");
    if (!select) return;
    const form = select.form;
    form.action = select.value;
    form.submit();
  });

  // Copyable one-time secrets (invite links, API tokens) select themselves on focus.
  document.addEventListener("focusin", (event) => {
    const input = event.target.closest("[data-select-on-focus]");
    if (input) input.select();
  });
})();

// Ctrl/Cmd+Enter generates from anywhere in the brief form.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
  const form = event.target.closest("[data-generate-form]");
  if (form) {
    event.preventDefault();
    form.requestSubmit();
  }
});

// The model advisor: pick what matters, and it selects a model and says why.
document.addEventListener("click", (event) => {
  const chip = event.target.closest("[data-advise-model]");
  if (!chip) return;
  const select = document.getElementById("id_model");
  const why = document.getElementById("advisor-why");
  document.querySelectorAll("[data-advise-model]").forEach((other) =>
    other.setAttribute("aria-pressed", String(other === chip)));
  if (why) why.textContent = chip.dataset.adviseWhy;
  if (select && !chip.hasAttribute("data-advise-unavailable")) {
    select.value = chip.dataset.adviseModel;
    select.dispatchEvent(new Event("input", { bubbles: true }));
  }
});

// Lightbox: a click on a thumbnail opens the original; arrows move, Escape closes.
(() => {
  const dialog = () => document.getElementById("lightbox");
  let current = null;
  const items = () => Array.from(document.querySelectorAll("[data-lightbox]"));
  function show(link) {
    const box = dialog();
    if (!box || !link) return;
    current = link;
    const image = document.getElementById("lightbox-image");
    image.src = link.dataset.lightbox;
    image.alt = link.dataset.lightboxTitle || "";
    document.getElementById("lightbox-title").textContent = link.dataset.lightboxTitle || "";
    if (!box.open) box.showModal();
  }
  function step(delta) {
    const all = items();
    const index = all.indexOf(current);
    if (index >= 0 && all.length) show(all[(index + delta + all.length) % all.length]);
  }
  document.addEventListener("click", (event) => {
    const link = event.target.closest("[data-lightbox]");
    if (link && !(event.ctrlKey || event.metaKey || event.shiftKey)) {
      event.preventDefault();
      show(link);
      return;
    }
    if (event.target.closest("[data-lightbox-next]")) step(1);
    if (event.target.closest("[data-lightbox-prev]")) step(-1);
    if (event.target.closest("[data-lightbox-close]")) dialog()?.close();
  });
  document.addEventListener("keydown", (event) => {
    if (!dialog()?.open) return;
    if (event.key === "ArrowRight") { event.preventDefault(); step(1); }
    if (event.key === "ArrowLeft") { event.preventDefault(); step(-1); }
  });
})();

// Compare: the swipe slider reveals the right image over the left one. It starts from the
// slider's value as this script finds it (moved before the script ran, or restored by
// the browser on going back), then follows it.
function showSwipe(range) {
  const top = document.querySelector("[data-swipe-top]");
  if (top) top.style.setProperty("--swipe", range.value + "%");
}
document.querySelectorAll("[data-swipe-range]").forEach(showSwipe);
document.addEventListener("input", (event) => {
  const range = event.target.closest("[data-swipe-range]");
  if (range) showSwipe(range);
});

// Gallery selection: say how many images are selected for the zip.
document.addEventListener("change", (event) => {
  if (!event.target.matches("input[name=asset][form=selection-form]")) return;
  const count = document.querySelectorAll("input[name=asset][form=selection-form]:checked").length;
  const label = document.querySelector("[data-selection-count]");
  if (label) label.textContent = count ? `${count} selected` : "Select images to download them together.";
});
