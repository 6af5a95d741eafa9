// Live gallery updates. The htmx ws extension swaps what the server pushes; this small
// extension lets a pushed card be inserted when the page does not have it yet
// ("upsert"), and drops fragments whose target is not on this page.
(() => {
  "use strict";

  htmx.defineExtension("studio-live", {
    transformResponse(text, xhr, elt) {
      if (xhr || !elt || !elt.hasAttribute("ws-connect")) return text;
      const template = document.createElement("template");
      template.innerHTML = text;
      const out = [];
      for (const node of Array.from(template.content.children)) {
        if (node.id && document.getElementById(node.id)) {
          out.push(node.outerHTML);
          continue;
        }
        const into = node.dataset.upsertInto;
        if (into && document.querySelector(into)) {
          node.removeAttribute("hx-swap-oob");
          const wrapper = document.createElement("div");
          const position = node.dataset.upsertPosition || "afterbegin";
          wrapper.setAttribute("hx-swap-oob", position + ":" + into);
          wrapper.appendChild(node);
          out.push(wrapper.outerHTML);
        }
        // Otherwise the fragment's place is not on this page: nothing to do.
      }
      return out.join("");
    },
  });

  const status = () => document.querySelector("[data-live-status]");
  document.body.addEventListener("htmx:wsOpen", (event) => {
    const el = status();
    if (el) { el.textContent = "Live"; el.dataset.state = "open"; }
    // Ask for what happened while no socket listened: since the page was drawn, or since
    // the last socket started listening (the server stamps #live-since on each connect).
    const since = document.getElementById("live-since")?.dataset.since;
    if (since) event.detail.socketWrapper.send(JSON.stringify({ catch_up_since: since }));
  });
  document.body.addEventListener("htmx:wsClose", () => {
    const el = status();
    if (el) { el.textContent = "Reconnecting…"; el.dataset.state = "closed"; }
  });
  document.body.addEventListener("htmx:wsAfterMessage", () => {
    const empty = document.getElementById("gallery-empty");
    if (empty && document.querySelector("#asset-grid > *")) empty.remove();
  });

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-dismiss]");
    if (button) document.getElementById(button.dataset.dismiss)?.remove();
  });
})();
