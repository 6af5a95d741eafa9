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
