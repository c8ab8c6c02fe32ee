// The catalog map (admin): every product a dot on one canvas (tens of thousands draw in a few
// milliseconds, where as many DOM nodes would not), coloured by an attribute. Scroll zooms
// about the pointer, dragging pans, pointing shows the product, a click opens it, and a colour
// in the key opens those products in the shop.
(function () {
  "use strict";
  const canvas = document.getElementById("catalog-map");
  if (!canvas) return;
  const context = canvas.getContext("2d");
  const kindSelect = document.getElementById("map-kind");
  const colourSelect = document.getElementById("map-colour");
  const key = document.getElementById("map-key");
  const tip = document.getElementById("map-tip");
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                   "#bcbd22", "#393b79", "#ad494a", "#637939"];
  const OTHER = "#c7c7c7";
  const MARGIN = 12;
  let data = null;
  let view = { scale: 1, x: 0, y: 0 };  // screen = (point * size) * scale + offset
  let hovered = -1;
  const products = new Map();

  // A "#rrggbb" colour as one opaque pixel of the canvas's (little-endian RGBA) buffer.
  function packed(hex) {
    const value = parseInt(hex.slice(1), 16);
    return ((0xff << 24) | ((value & 0xff) << 16) | (value & 0xff00) | ((value >> 16) & 0xff)) >>> 0;
  }

  function colourOf(code, attribute) {
    return code === attribute.values.length - 1 ? OTHER : PALETTE[code % PALETTE.length];
  }

  // The plot's size, read from the page once a frame (reading it for each dot would make the
  // browser work out its layout tens of thousands of times).
  let plot = { width: 0, height: 0 };
  function measure() {
    plot = { width: canvas.clientWidth - 2 * MARGIN, height: canvas.clientHeight - 2 * MARGIN };
  }

  function screen(index) {
    return [MARGIN + (data.x[index] * plot.width) * view.scale + view.x,
            MARGIN + ((1 - data.y[index]) * plot.height) * view.scale + view.y];
  }

  // The dots' order for an attribute's colours, worked out once per attribute.
  const orders = new Map();
  function drawingOrder(attribute) {
    if (!orders.has(attribute)) {
      const other = attribute.values.length - 1;
      const rank = (code) => (code === other ? -1 : code);
      orders.set(attribute, data.ids.map((_, i) => i).sort((a, b) => rank(attribute.codes[a]) - rank(attribute.codes[b])));
    }
    return orders.get(attribute);
  }

  function draw() {
    measure();
    const ratio = window.devicePixelRatio || 1;
    canvas.width = canvas.clientWidth * ratio;
    canvas.height = canvas.clientHeight * ratio;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, canvas.clientWidth, canvas.clientHeight);
    if (!data) return;
    const attribute = data.attributes[colourSelect.value];
    // Bigger dots for a smaller catalog; zooming in grows them a little.
    const dot = Math.min(12, Math.max(2, Math.min(8, 300 / Math.sqrt(data.ids.length))) * Math.sqrt(view.scale));
    // Dots are written straight into the canvas's pixels, in the order that puts "other"
    // underneath: tens of thousands of drawing calls a frame would not keep up with a drag.
    const image = context.createImageData(canvas.width, canvas.height);
    const pixels = new Uint32Array(image.data.buffer);
    const side = Math.max(1, Math.round(dot * ratio));
    const colours = attribute.values.map((_, code) => packed(colourOf(code, attribute)));
    for (const i of drawingOrder(attribute)) {
      const [x, y] = screen(i);
      const left = Math.round((x - dot / 2) * ratio);
      const top = Math.round((y - dot / 2) * ratio);
      if (left >= canvas.width || top >= canvas.height || left + side <= 0 || top + side <= 0) continue;
      const colour = colours[attribute.codes[i]];
      for (let row = Math.max(0, top); row < Math.min(canvas.height, top + side); row++) {
        pixels.fill(colour, row * canvas.width + Math.max(0, left), row * canvas.width + Math.min(canvas.width, left + side));
      }
    }
    context.putImageData(image, 0, 0);
    if (hovered >= 0) {
      const [x, y] = screen(hovered);
      context.strokeStyle = "#000";
      context.lineWidth = 2;
      context.strokeRect(x - dot, y - dot, 2 * dot, 2 * dot);
    }
  }

  function drawKey() {
    const attribute = data.attributes[colourSelect.value];
    const counts = new Array(attribute.values.length).fill(0);
    attribute.codes.forEach((code) => { counts[code] += 1; });
    key.replaceChildren(...attribute.values.flatMap((value, code) => {
      if (!counts[code]) return [];
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.style.background = colourOf(code, attribute);
      const label = document.createTextNode(`${value} (${counts[code]})`);
      if (code === attribute.values.length - 1) {
        item.append(swatch, label);
      } else {
        const link = document.createElement("a");
        link.href = canvas.dataset.shop + "?" + new URLSearchParams({ [colourSelect.value]: value });
        link.target = "_blank";
        link.append(swatch, label);
        item.append(link);
      }
      return [item];
    }));
  }

  async function load() {
    const option = kindSelect.selectedOptions[0];
    if (!option || option.disabled) return;
    const response = await fetch(option.dataset.url);
    if (!response.ok) return;
    data = await response.json();
    orders.clear();
    canvas.dataset.points = String(data.ids.length);
    view = { scale: 1, x: 0, y: 0 };
    drawKey();
    draw();
  }

  function nearest(event) {
    if (!data) return -1;
    measure();
    const rect = canvas.getBoundingClientRect();
    const px = event.clientX - rect.left;
    const py = event.clientY - rect.top;
    let best = -1;
    let bestDistance = 64;  // within 8 pixels
    for (let i = 0; i < data.ids.length; i++) {
      const [x, y] = screen(i);
      const distance = (x - px) ** 2 + (y - py) ** 2;
      if (distance < bestDistance) { best = i; bestDistance = distance; }
    }
    return best;
  }

  async function showTip(index, event) {
    if (index < 0) { tip.hidden = true; return; }
    const id = data.ids[index];
    const rect = canvas.getBoundingClientRect();
    tip.style.left = `${event.clientX - rect.left + 14}px`;
    tip.style.top = `${event.clientY - rect.top + 14}px`;
    tip.hidden = false;
    if (!products.has(id)) {
      products.set(id, fetch(canvas.dataset.api.replace(/0$/, String(id))).then((r) => (r.ok ? r.json() : null)));
    }
    const product = await products.get(id);
    if (hovered !== index || !product) return;
    const image = tip.querySelector("img");
    image.hidden = !product.image_url;
    if (product.image_url) image.src = product.image_url;
    tip.querySelector("span").textContent = `${product.name} · ${product.article_type}`;
  }

  let drag = null;
  canvas.addEventListener("mousedown", (event) => { drag = { x: event.clientX, y: event.clientY, moved: false }; });
  window.addEventListener("mouseup", () => { setTimeout(() => { drag = null; }, 0); });
  canvas.addEventListener("mousemove", (event) => {
    if (drag && event.buttons) {
      view.x += event.clientX - drag.x;
      view.y += event.clientY - drag.y;
      drag.moved = drag.moved || Math.abs(event.clientX - drag.x) + Math.abs(event.clientY - drag.y) > 2;
      drag.x = event.clientX;
      drag.y = event.clientY;
      tip.hidden = true;
      requestAnimationFrame(draw);
      return;
    }
    const index = nearest(event);
    if (index !== hovered) {
      hovered = index;
      requestAnimationFrame(draw);
    }
    showTip(index, event);
  });
  canvas.addEventListener("mouseleave", () => { hovered = -1; tip.hidden = true; requestAnimationFrame(draw); });
  canvas.addEventListener("click", (event) => {
    if (drag && drag.moved) return;
    const index = nearest(event);
    if (index >= 0) window.open(canvas.dataset.product.replace(/0\/$/, `${data.ids[index]}/`), "_blank");
  });
  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    const rect = canvas.getBoundingClientRect();
    const px = event.clientX - rect.left;
    const py = event.clientY - rect.top;
    const factor = Math.exp(-event.deltaY * 0.0015);
    const scale = Math.min(64, Math.max(0.5, view.scale * factor));
    const applied = scale / view.scale;
    // Zoom about the pointer: the point under it stays under it.
    view.x = px - MARGIN - (px - MARGIN - view.x) * applied;
    view.y = py - MARGIN - (py - MARGIN - view.y) * applied;
    view.scale = scale;
    requestAnimationFrame(draw);
  }, { passive: false });
  document.getElementById("map-reset").addEventListener("click", () => { view = { scale: 1, x: 0, y: 0 }; draw(); });
  kindSelect.addEventListener("change", load);
  colourSelect.addEventListener("change", () => { if (data) { drawKey(); draw(); } });
  window.addEventListener("resize", () => requestAnimationFrame(draw));
  if (kindSelect.selectedOptions[0] && kindSelect.selectedOptions[0].disabled) {
    const drawn = [...kindSelect.options].find((option) => !option.disabled);
    if (drawn) kindSelect.value = drawn.value;
  }
  load();
})();
