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
