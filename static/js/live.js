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
        const current = node.id && document.getElementById(node.id);
        if (current) {
          keepViewerState(node, current);
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

  // A pushed card is rendered once for everyone watching, so it cannot know this viewer's
  // star or whether they had it selected: those stay as they were on the page.
  function keepViewerState(fresh, current) {
    const star = '[aria-label="Favourite"]';
    const oldStar = current.querySelector(star);
    const newStar = fresh.querySelector(star);
    if (oldStar && newStar) newStar.replaceWith(oldStar.cloneNode(true));
    const box = 'input[name="asset"]';
    if (current.querySelector(box)?.checked) fresh.querySelector(box)?.setAttribute("checked", "");
  }

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
