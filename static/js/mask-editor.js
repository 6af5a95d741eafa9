// The mask editor: paint where the image should change, then send the edit.
//
// The mask is a canvas at the image's natural size, stacked on the <img> inside a "stage"
// that CSS transforms for zoom and pan; so pointer positions map to image pixels through
// the canvas's on-screen box, at any zoom. Every change to the mask is an operation
// (stroke, rectangle, clear, invert) kept in a list: undo and redo replay that list.
// On submit the mask goes out as a PNG of exactly the image's size: white where painted,
// transparent where the image must stay. One file, no build step, no framework.
(() => {
  "use strict";

  const root = document.querySelector("[data-mask-editor]");
  const form = document.querySelector("[data-edit-form]");
  if (!root || !form) return;

  const TINT = [255, 40, 90]; // how the painted area shows on screen
  const FULL_COVERAGE = 0.995; // the server's limit (imaging.MASK_FULL_COVERAGE)
  const MIN_SCALE = 0.05;
  const MAX_SCALE = 32;

  const width = Number(root.dataset.width);
  const height = Number(root.dataset.height);
  const viewport = root.querySelector("[data-viewport]");
  const stage = root.querySelector("[data-stage]");
  const mask = root.querySelector("[data-mask]");
  const ctx = mask.getContext("2d");
  const cursor = root.querySelector("[data-cursor]");
  const rectPreview = root.querySelector("[data-rect-preview]");
  const status = document.getElementById("mask-status");
  const sizeInput = document.getElementById("brush-size");
  const softInput = document.getElementById("brush-softness");
  const sizeValue = document.getElementById("brush-size-value");
  const softValue = document.getElementById("brush-softness-value");
  const zoomValue = root.querySelector("[data-zoom-value]");
  const button = (action) => root.querySelector(`[data-action="${action}"]`);

  const state = {
    tool: "brush",
    ops: [], // what is painted, in order
    undone: [], // what undo took back, for redo
    view: { scale: 1, x: 0, y: 0 },
    fitted: true, // keep fitting the image to the viewport until the user zooms
    spaceHeld: false,
    gesture: null, // the pointer gesture in progress
    pointer: null, // where the brush outline is drawn, in viewport pixels
    coverage: 0,
  };

  // --- drawing operations ---------------------------------------------------------------

  const scratch = document.createElement("canvas"); // full-size helper for invert and export

  function dab(c, x, y, radius, softness) {
    const inner = radius * (1 - softness);
    if (softness <= 0) {
      c.fillStyle = `rgb(${TINT})`;
    } else {
      const gradient = c.createRadialGradient(x, y, inner, x, y, radius);
      gradient.addColorStop(0, `rgba(${TINT}, 1)`);
      gradient.addColorStop(1, `rgba(${TINT}, 0)`);
      c.fillStyle = gradient;
    }
    c.beginPath();
    c.arc(x, y, radius, 0, Math.PI * 2);
    c.fill();
  }

  // Dabs along the segment from point a to point b, evenly spaced across segments:
  // `carry` is how far along the next dab is due. Returns the new carry.
  function strokeSegment(c, op, a, b, carry) {
    const [x0, y0, r0] = a;
    const [x1, y1, r1] = b;
    const distance = Math.hypot(x1 - x0, y1 - y0);
    let travelled = carry;
    while (travelled <= distance) {
      const t = distance === 0 ? 0 : travelled / distance;
      const radius = r0 + (r1 - r0) * t;
      dab(c, x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, radius, op.softness);
      travelled += Math.max(0.5, radius * 0.2);
    }
    return travelled - distance;
  }

  function withMode(op, draw) {
    ctx.save();
    ctx.globalCompositeOperation = op.erase ? "destination-out" : "source-over";
    draw();
    ctx.restore();
  }

  function apply(op) {
    if (op.type === "stroke") {
      withMode(op, () => {
        let carry = 0;
        const points = op.points;
        for (let i = 0; i < points.length; i++) {
          carry = strokeSegment(ctx, op, points[Math.max(0, i - 1)], points[i], i === 0 ? 0 : carry);
        }
      });
    } else if (op.type === "rect") {
      withMode(op, () => {
        ctx.fillStyle = `rgb(${TINT})`;
        ctx.fillRect(op.x, op.y, op.w, op.h);
      });
    } else if (op.type === "clear") {
      ctx.clearRect(0, 0, width, height);
    } else if (op.type === "invert") {
      const s = scratchContext();
      s.fillStyle = `rgb(${TINT})`;
      s.fillRect(0, 0, width, height);
      s.globalCompositeOperation = "destination-out";
      s.drawImage(mask, 0, 0);
      ctx.clearRect(0, 0, width, height);
      ctx.drawImage(scratch, 0, 0);
    }
  }

  function scratchContext() {
    scratch.width = width; // resizing also clears it
    scratch.height = height;
    return scratch.getContext("2d");
  }

  function redraw() {
    ctx.clearRect(0, 0, width, height);
    state.ops.forEach(apply);
  }

  function commit(op, alreadyDrawn = false) {
    if (state.gesture && !alreadyDrawn) return; // not while a stroke is being drawn
    state.ops.push(op);
    state.undone = [];
    if (!alreadyDrawn) apply(op);
    changed();
  }

  function undo() {
    if (!state.ops.length || state.gesture) return;
    state.undone.push(state.ops.pop());
    redraw();
    changed();
  }

  function redo() {
    if (!state.undone.length || state.gesture) return;
    const op = state.undone.pop();
    state.ops.push(op);
    apply(op);
    changed();
  }

  // --- coverage and status ------------------------------------------------------------------

  // Share of the image's pixels with any paint on them, counted exactly, in bands so a
  // very large image never needs all its pixels in memory at once.
  function measureCoverage() {
    let painted = 0;
    const band = Math.max(1, Math.floor(4_000_000 / width));
    for (let top = 0; top < height; top += band) {
      const rows = Math.min(band, height - top);
      const data = ctx.getImageData(0, top, width, rows).data;
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
    }
    return painted / (width * height);
  }

  function describeCoverage(coverage) {
    if (coverage === 0) return "The mask is empty: paint over the area you want to change.";
    const percent = coverage * 100;
    if (percent < 1) return "Mask covers less than 1% of the image";
    if (coverage >= FULL_COVERAGE) return "Mask covers the whole image: leave some of it unpainted";
    return `Mask covers ${Math.min(99, Math.round(percent))}% of the image`;
  }

  function changed() {
    state.coverage = measureCoverage();
    status.textContent = describeCoverage(state.coverage);
    button("undo").disabled = state.ops.length === 0;
    button("redo").disabled = state.undone.length === 0;
    button("clear").disabled = state.coverage === 0;
    if (state.coverage > 0) clearError("mask");
  }

  // --- tools --------------------------------------------------------------------------------

  function setTool(tool) {
    state.tool = tool;
    root.querySelectorAll("[data-tool]").forEach((b) => {
      b.setAttribute("aria-pressed", String(b.dataset.tool === tool));
    });
    viewport.dataset.tool = tool;
    updateCursor();
  }

  const brushSize = () => Number(sizeInput.value);
  const softness = () => Number(softInput.value) / 100;

  function setBrushSize(value) {
    const clamped = Math.round(Math.min(Number(sizeInput.max), Math.max(Number(sizeInput.min), value)));
    sizeInput.value = String(clamped);
    showSliderValues();
  }

  function showSliderValues() {
    sizeValue.textContent = `${brushSize()} px`;
    softValue.textContent = `${softInput.value}%`;
    updateCursor();
  }

  // --- zoom and pan -------------------------------------------------------------------------

  function applyView() {
    const { scale, x, y } = state.view;
    stage.style.transform = `translate(${x}px, ${y}px) scale(${scale})`;
    zoomValue.textContent = `${Math.round(scale * 100)}%`;
    updateCursor();
  }

  function fit() {
    const box = viewport.getBoundingClientRect();
    if (!box.width || !box.height) return;
    const scale = Math.min(box.width / width, box.height / height);
    state.view = {
      scale,
      x: (box.width - width * scale) / 2,
      y: (box.height - height * scale) / 2,
    };
    state.fitted = true;
    applyView();
  }

  // Zoom by `factor`, keeping the image point under (px, py) (viewport pixels) in place.
  function zoomAt(factor, px, py) {
    const { scale, x, y } = state.view;
    const next = Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale * factor));
    state.view = {
      scale: next,
      x: px - ((px - x) * next) / scale,
      y: py - ((py - y) * next) / scale,
    };
    state.fitted = false;
    applyView();
  }

  function zoomCentre(factor) {
    const box = viewport.getBoundingClientRect();
    zoomAt(factor, box.width / 2, box.height / 2);
  }

  // --- pointer input ------------------------------------------------------------------------

  function imagePoint(event) {
    const box = mask.getBoundingClientRect();
    return [
      ((event.clientX - box.left) * width) / box.width,
      ((event.clientY - box.top) * height) / box.height,
    ];
  }

  function viewportPoint(event) {
    const box = viewport.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  }

  // A pen paints thinner when pressed lightly; mouse and touch report no useful pressure.
  function radiusFor(event) {
    const radius = brushSize() / 2;
    if (event.pointerType === "pen" && event.pressure > 0) {
      return Math.max(0.5, radius * (0.2 + 0.8 * event.pressure));
    }
    return radius;
  }

  viewport.addEventListener("pointerdown", (event) => {
    if (state.gesture || (event.pointerType === "mouse" && event.button !== 0 && event.button !== 1)) {
      return;
    }
    // No preventDefault: a click still focuses the viewport (for the keys), without a ring.
    viewport.setPointerCapture(event.pointerId);
    const pan = state.tool === "hand" || state.spaceHeld || event.button === 1;
    if (pan) {
      state.gesture = { kind: "pan", id: event.pointerId, last: [event.clientX, event.clientY] };
      viewport.dataset.panning = "true";
    } else if (state.tool === "rect") {
      const start = imagePoint(event);
      state.gesture = { kind: "rect", id: event.pointerId, start, end: start };
      rectPreview.hidden = false;
      drawRectPreview();
    } else {
      const [x, y] = imagePoint(event);
      const op = {
        type: "stroke",
        erase: state.tool === "eraser",
        softness: softness(),
        points: [[x, y, radiusFor(event)]],
      };
      state.gesture = { kind: "paint", id: event.pointerId, op, carry: 0 };
      withMode(op, () => {
        state.gesture.carry = strokeSegment(ctx, op, op.points[0], op.points[0], 0);
      });
    }
  });

  viewport.addEventListener("pointermove", (event) => {
    moveCursor(event);
    const gesture = state.gesture;
    if (!gesture || gesture.id !== event.pointerId) return;
    if (gesture.kind === "pan") {
      state.view.x += event.clientX - gesture.last[0];
      state.view.y += event.clientY - gesture.last[1];
      gesture.last = [event.clientX, event.clientY];
      state.fitted = false;
      applyView();
    } else if (gesture.kind === "rect") {
      gesture.end = imagePoint(event);
      drawRectPreview();
    } else {
      // Coalesced events carry the pen's full path between frames.
      const samples = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
      const op = gesture.op;
      withMode(op, () => {
        for (const sample of samples.length ? samples : [event]) {
          const [x, y] = imagePoint(sample);
          const point = [x, y, radiusFor(sample)];
          gesture.carry = strokeSegment(ctx, op, op.points[op.points.length - 1], point, gesture.carry);
          op.points.push(point);
        }
      });
    }
  });

  function endGesture(event) {
    const gesture = state.gesture;
    if (!gesture || gesture.id !== event.pointerId) return;
    state.gesture = null;
    delete viewport.dataset.panning;
    if (viewport.hasPointerCapture(event.pointerId)) viewport.releasePointerCapture(event.pointerId);
    if (gesture.kind === "paint") {
      commit(gesture.op, true);
    } else if (gesture.kind === "rect") {
      rectPreview.hidden = true;
      const box = rectBox(gesture.start, gesture.end);
      if (box.w >= 1 && box.h >= 1 && event.type !== "pointercancel") {
        commit({ type: "rect", erase: false, ...box });
      }
    }
  }
  viewport.addEventListener("pointerup", endGesture);
  viewport.addEventListener("pointercancel", endGesture);

  function rectBox(a, b) {
    const clamp = (v, max) => Math.min(max, Math.max(0, v));
    const x0 = Math.round(clamp(Math.min(a[0], b[0]), width));
    const y0 = Math.round(clamp(Math.min(a[1], b[1]), height));
    const x1 = Math.round(clamp(Math.max(a[0], b[0]), width));
    const y1 = Math.round(clamp(Math.max(a[1], b[1]), height));
    return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
  }

  function drawRectPreview() {
    const g = state.gesture;
    const box = rectBox(g.start, g.end);
    const { scale, x, y } = state.view;
    rectPreview.style.transform = `translate(${x + box.x * scale}px, ${y + box.y * scale}px)`;
    rectPreview.style.width = `${box.w * scale}px`;
    rectPreview.style.height = `${box.h * scale}px`;
  }

  // The brush outline follows a mouse or pen; a finger needs none.
  function moveCursor(event) {
    if (event.pointerType === "touch") {
      cursor.hidden = true;
      return;
    }
    state.pointer = viewportPoint(event);
    updateCursor();
  }

  function updateCursor() {
    const painting = state.tool === "brush" || state.tool === "eraser";
    if (!painting || !state.pointer || state.spaceHeld) {
      cursor.hidden = true;
      return;
    }
    const diameter = brushSize() * state.view.scale;
    cursor.hidden = false;
    cursor.style.width = `${diameter}px`;
    cursor.style.height = `${diameter}px`;
    cursor.style.transform = `translate(${state.pointer[0] - diameter / 2}px, ${state.pointer[1] - diameter / 2}px)`;
  }

  viewport.addEventListener("pointerleave", () => {
    state.pointer = null;
    cursor.hidden = true;
  });

  viewport.addEventListener(
    "wheel",
    (event) => {
      event.preventDefault();
      const [px, py] = viewportPoint(event);
      // Trackpad pinches arrive as wheel events with ctrlKey and small deltas.
      const speed = event.ctrlKey ? 0.01 : 0.0015;
      zoomAt(Math.exp(-event.deltaY * speed), px, py);
    },
    { passive: false },
  );

  new ResizeObserver(() => {
    if (state.fitted) fit();
  }).observe(viewport);

  // --- buttons and keys -------------------------------------------------------------------

  root.addEventListener("click", (event) => {
    const toolButton = event.target.closest("[data-tool]");
    if (toolButton) return setTool(toolButton.dataset.tool);
    const actionButton = event.target.closest("[data-action]");
    if (!actionButton) return;
    const action = actionButton.dataset.action;
    if (action === "undo") undo();
    else if (action === "redo") redo();
    else if (action === "clear") commit({ type: "clear" });
    else if (action === "invert") commit({ type: "invert" });
    else if (action === "toggle-mask") {
      const visible = actionButton.getAttribute("aria-pressed") !== "true";
      actionButton.setAttribute("aria-pressed", String(visible));
      mask.classList.toggle("is-hidden", !visible);
    } else if (action === "zoom-in") zoomCentre(1.25);
    else if (action === "zoom-out") zoomCentre(0.8);
    else if (action === "fit") fit();
  });

  sizeInput.addEventListener("input", showSliderValues);
  softInput.addEventListener("input", showSliderValues);

  // Keys belong to the text fields while one has focus (their own undo included).
  function typing(target) {
    return target.closest?.(
      "textarea, select, [contenteditable], input:not([type=range]):not([type=checkbox]):not([type=radio]):not([type=button]):not([type=submit])",
    );
  }

  document.addEventListener("keydown", (event) => {
    if (typing(event.target)) return;
    const key = event.key.toLowerCase();
    const command = event.ctrlKey || event.metaKey;
    if (command && key === "z") {
      event.preventDefault();
      if (event.shiftKey) redo();
      else undo();
      return;
    }
    if (command && key === "y") {
      event.preventDefault();
      redo();
      return;
    }
    if (command || event.altKey) return;
    if (key === "[" || key === "]") {
      const step = Math.max(1, Math.round(brushSize() * 0.15));
      setBrushSize(brushSize() + (key === "]" ? step : -step));
    } else if (key === "b") setTool("brush");
    else if (key === "e") setTool("eraser");
    else if (key === "r") setTool("rect");
    else if (key === "h") setTool("hand");
    else if (key === "+" || key === "=") zoomCentre(1.25);
    else if (key === "-" || key === "_") zoomCentre(0.8);
    else if (key === "0") fit();
    else if (key === " " && (event.target === document.body || event.target === viewport)) {
      event.preventDefault(); // no page scroll while panning
      state.spaceHeld = true;
      viewport.dataset.spacePan = "true";
      updateCursor();
    }
  });

  document.addEventListener("keyup", (event) => {
    if (event.key === " ") {
      state.spaceHeld = false;
      delete viewport.dataset.spacePan;
      updateCursor();
    }
  });

  // --- errors beside the fields -------------------------------------------------------------

  // Where to send focus when the server refuses a field.
  const FOCUS = {
    mask: viewport,
    change: document.getElementById("id_change"),
    keep: document.getElementById("id_keep"),
    model: document.getElementById("id_model"),
    quality: document.getElementById("id_quality"),
    references: document.getElementById("id_references"),
    feather: document.getElementById("id_feather"),
  };

  function setInvalid(slot, invalid) {
    const field = FOCUS[slot];
    if (!field || field === viewport) return;
    if (invalid) field.setAttribute("aria-invalid", "true");
    else field.removeAttribute("aria-invalid");
  }

  function clearError(slot) {
    const element = document.getElementById(`error-${slot}`);
    if (element && !element.hidden) {
      element.hidden = true;
      element.removeAttribute("role");
      element.textContent = "";
    }
    setInvalid(slot, false);
  }

  // Replace the error slot with a fresh element, so screen readers announce it.
  function showError(slot, message) {
    const old = document.getElementById(`error-${slot}`) || document.getElementById("error-form");
    const fresh = document.createElement("p");
    fresh.id = old.id;
    fresh.className = "field-error";
    fresh.setAttribute("role", "alert");
    fresh.textContent = message;
    old.replaceWith(fresh);
    revealError(slot);
  }

  function revealError(slot) {
    setInvalid(slot, true);
    const target = FOCUS[slot] || form.querySelector("[data-edit-submit]");
    target.focus({ preventScroll: true });
    document.getElementById(`error-${slot}`)?.scrollIntoView({ block: "nearest" });
  }

  // The server answers a refused edit with every error slot; swap them in by id.
  function swapErrors(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    let shown = null;
    for (const element of Array.from(template.content.children)) {
      const current = element.id && document.getElementById(element.id);
      if (!current) continue;
      current.replaceWith(element);
      const slot = element.id.replace(/^error-/, "");
      setInvalid(slot, false);
      if (!element.hidden && !shown) shown = slot;
    }
    if (shown) revealError(shown);
    return Boolean(shown);
  }

  // --- submit -----------------------------------------------------------------------------

  // White where painted (keeping the soft edge in alpha), transparent elsewhere.
  function exportMask() {
    const s = scratchContext();
    s.fillStyle = "#fff";
    s.fillRect(0, 0, width, height);
    s.globalCompositeOperation = "destination-in";
    s.drawImage(mask, 0, 0);
    return new Promise((resolve, reject) => {
      scratch.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("no mask"))), "image/png");
    });
  }

  const uploads = form.querySelector("[data-reference-uploads]");
  const uploadCount = document.getElementById("upload-count");
  // Runs before htmx hears the change on the form, so the cost counts the new files.
  uploads?.addEventListener("change", () => {
    uploadCount.value = String(uploads.files.length);
    clearError("references");
  });

  const submitButton = form.querySelector("[data-edit-submit]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const slot of Object.keys(FOCUS).concat("form")) clearError(slot);
    const coverage = measureCoverage();
    if (coverage === 0) return showError("mask", "Paint the area you want to change first.");
    if (coverage >= FULL_COVERAGE) {
      return showError(
        "mask",
        "The mask covers the whole image; leave what must stay unpainted, or make variations instead.",
      );
    }
    submitButton.disabled = true;
    submitButton.setAttribute("aria-busy", "true");
    try {
      const data = new FormData(form);
      data.set("mask", await exportMask(), "mask.png");
      const response = await fetch(form.action, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { "HX-Request": "true" },
      });
      const next = response.headers.get("HX-Redirect");
      if (next) {
        window.location.assign(next);
        return;
      }
      if (response.status === 429) {
        showError("form", "Too many edits in a short time; wait a moment and try again.");
      } else if (response.status === 403 || response.status === 404) {
        showError("form", "You can no longer edit this version; reload the page to see why.");
      } else if (!swapErrors(await response.text())) {
        showError("form", "The edit could not be queued. Try again in a moment.");
      }
    } catch (error) {
      showError("form", "The edit could not be sent. Check your connection and try again.");
    } finally {
      submitButton.disabled = false;
      submitButton.removeAttribute("aria-busy");
    }
  });

  // --- start ----------------------------------------------------------------------------

  stage.style.width = `${width}px`;
  stage.style.height = `${height}px`;
  setTool("brush");
  showSliderValues();
  fit();
  changed();
})();
