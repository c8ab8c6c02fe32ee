// The storefront's few lines of script. Every page works without them (plain forms and links);
// with them: instant search as the shopper types, suggestions under the search box, filters and
// sort that apply on change, hearts and "Not for me" without a reload, and a photo dropped on
// the photo box.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  const main = document.getElementById("main");
  const box = document.querySelector("form.searchbox");
  const input = document.getElementById("q");
  const list = document.getElementById("suggestions");

  // Instant pages: fetch a page's content alone (X-Fragment) and swap it into <main>; the URL
  // follows, so the back button and a shared link give the same page.
  let inFlight = null;
  async function show(url, how) {
    if (inFlight) inFlight.abort();
    inFlight = new AbortController();
    let response;
    try {
      response = await fetch(url, { headers: { "X-Fragment": "1" }, signal: inFlight.signal });
    } catch (error) {
      if (error.name !== "AbortError") window.location.assign(url);
      return;
    }
    if (!response.ok && response.status !== 400) { window.location.assign(url); return; }
    const holder = document.createElement("div");
    holder.innerHTML = await response.text();
    const fragment = holder.firstElementChild;
    if (!fragment) return;
    main.replaceChildren(...fragment.childNodes);
    document.title = fragment.dataset.title || document.title;
    if (how === "push") history.pushState({ instant: true }, "", url);
    else if (how === "replace") history.replaceState({ instant: true }, "", url);
    else if (input) input.value = new URL(url, window.location.href).searchParams.get("q") || "";
    wirePhoto();
    wireDrawer();
    announce();
  }

  // The number of results, said aloud as it changes (the page's own count, in a live region
  // that stays while the content around it is swapped).
  function announce() {
    const said = main.querySelector("[data-announce]");
    const announcer = document.getElementById("announcer");
    if (said && announcer) announcer.textContent = said.textContent.trim();
  }
  window.addEventListener("popstate", () => show(window.location.href, "none"));

  // A new query keeps the shopper's own filters and sort (those in the address), not the
  // values the last query was read as (ticked in the sidebar, but not chosen).
  function searchUrl(query) {
    const params = new URLSearchParams({ q: query });
    if (window.location.pathname === box.getAttribute("action")) {
      for (const [name, value] of new URLSearchParams(window.location.search)) {
        if (!["q", "page", "exact", "decided", "sid"].includes(name)) params.append(name, value);
      }
    }
    return box.getAttribute("action") + "?" + params.toString();
  }

  // Typing: the first change of a burst adds a history entry, the rest replace it.
  let typingTimer = null;
  let pushed = false;
  if (input) {
    input.addEventListener("input", () => {
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => {
        const query = input.value.trim();
        if (!query) return;
        show(searchUrl(query), pushed ? "replace" : "push");
        pushed = true;
      }, 250);
      suggestSoon();
    });
    input.addEventListener("blur", () => { pushed = false; });
  }
  if (box) {
    box.addEventListener("submit", (event) => {
      const active = activeOption();
      event.preventDefault();
      clearTimeout(typingTimer);
      closeList();
      if (active) { window.location.assign(active.dataset.url); return; }
      if (input.value.trim()) show(searchUrl(input.value.trim()), "push");
    });
  }

  // Filters and sort apply on change.
  main.addEventListener("change", (event) => {
    const form = event.target.form;
    if (!form || !form.matches("form.filters, form.sort")) return;
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) if (value) params.append(name, value);
    show((form.getAttribute("action") || window.location.pathname) + "?" + params.toString(), "push");
  });

  // A card's heart and "Not for me" answer in place: the heart flips, the dismissed card goes.
  // Anything but "done" (204) falls back to the plain form.
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!form.matches("form.heart, form.dismiss")) return;
    event.preventDefault();
    let response;
    try {
      response = await fetch(form.action, { method: "POST", body: new FormData(form), headers: { "X-Fragment": "1" } });
    } catch (error) {
      response = null;
    }
    if (!response || response.status !== 204) { form.submit(); return; }
    if (form.matches("form.dismiss")) { form.closest(".card")?.remove(); return; }
    const on = form.elements.on.value === "1";
    const button = form.querySelector("button");
    form.elements.on.value = on ? "0" : "1";
    button.classList.toggle("on", on);
    button.setAttribute("aria-pressed", String(on));
    button.title = on ? "Remove from favourites" : "Add to favourites";
    button.querySelector("[aria-hidden]").textContent = on ? "\u2665" : "\u2661";
  });

  // Suggestions: an ARIA combobox. Arrow keys move through them, Enter picks, Escape closes.
  let suggestTimer = null;
  let asked = "";
  function suggestSoon() {
    clearTimeout(suggestTimer);
    suggestTimer = setTimeout(suggest, 120);
  }
  async function suggest() {
    const query = input.value.trim();
    if (!query) { closeList(); return; }
    asked = query;
    let answer;
    try {
      const response = await fetch(box.dataset.suggest + "?" + new URLSearchParams({ q: query }));
      if (!response.ok) return;
      answer = await response.json();
    } catch (error) {
      return;
    }
    if (asked !== input.value.trim()) return;
    list.replaceChildren(...answer.suggestions.map((suggestion, index) => {
      const option = document.createElement("li");
      option.id = "suggestion-" + index;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      option.dataset.url = suggestion.url;
      option.dataset.kind = suggestion.kind;
      const text = document.createElement("span");
      text.textContent = suggestion.text;
      const label = document.createElement("small");
      label.textContent = suggestion.label;
      option.append(text, label);
      option.addEventListener("mousedown", (event) => {
        event.preventDefault();
        window.location.assign(suggestion.url);
      });
      return option;
    }));
    if (list.children.length) openList(); else closeList();
  }
  function openList() {
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }
  function closeList() {
    if (!list) return;
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    for (const option of list.children) option.setAttribute("aria-selected", "false");
  }
  function activeOption() {
    return list && !list.hidden ? list.querySelector("[aria-selected=true]") : null;
  }
  function move(step) {
    const options = [...list.children];
    if (!options.length) return;
    if (list.hidden) openList();
    const current = options.findIndex((option) => option.getAttribute("aria-selected") === "true");
    // Positions -1 (the box itself) to length - 1, round and round.
    const next = (current + 1 + step + options.length + 1) % (options.length + 1) - 1;
    options.forEach((option, index) => option.setAttribute("aria-selected", String(index === next)));
    if (next >= 0) {
      input.setAttribute("aria-activedescendant", options[next].id);
      options[next].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }
  if (input && list) {
    input.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown") { event.preventDefault(); move(1); }
      else if (event.key === "ArrowUp") { event.preventDefault(); move(-1); }
      else if (event.key === "Escape") closeList();
    });
    input.addEventListener("blur", () => setTimeout(closeList, 100));
  }

  // A photo dropped on the photo-search box fills its file input and submits it.
  function wirePhoto() {
    const form = document.getElementById("photo-form");
    if (!form || form.dataset.wired) return;
    form.dataset.wired = "1";
    const file = document.getElementById("photo-input");
    ["dragenter", "dragover"].forEach((type) => form.addEventListener(type, (event) => {
      event.preventDefault();
      form.classList.add("dropping");
    }));
    ["dragleave", "drop"].forEach((type) => form.addEventListener(type, () => form.classList.remove("dropping")));
    form.addEventListener("drop", (event) => {
      event.preventDefault();
      if (!event.dataTransfer.files.length) return;
      file.files = event.dataTransfer.files;
      form.requestSubmit();
    });
  }
  wirePhoto();

  // On a phone the filters open in a drawer from a "Filters" button (without script they sit
  // under the results, as before). Escape or "Show results" closes it, and focus goes back.
  const phone = window.matchMedia("(max-width: 760px)");
  function wireDrawer() {
    const aside = main.querySelector(".layout > aside");
    if (!aside || aside.dataset.wired) return;
    aside.dataset.wired = "1";
    aside.id = "filters-drawer";
    const open = document.createElement("button");
    open.type = "button";
    open.className = "drawer-open";
    open.textContent = "Filters";
    open.setAttribute("aria-controls", aside.id);
    open.setAttribute("aria-expanded", "false");
    const close = document.createElement("button");
    close.type = "button";
    close.className = "drawer-close primary";
    close.textContent = "Show results";
    aside.prepend(close);
    aside.parentElement.querySelector("section")?.prepend(open);
    function toggle(on) {
      aside.classList.toggle("open", on);
      open.setAttribute("aria-expanded", String(on));
      (on ? close : open).focus();
    }
    open.addEventListener("click", () => toggle(true));
    close.addEventListener("click", () => toggle(false));
    aside.addEventListener("keydown", (event) => { if (event.key === "Escape" && phone.matches) toggle(false); });
  }
  wireDrawer();

  // "View in shop": counted by the link's ping; a browser that sends no pings sends a beacon.
  if (!("ping" in HTMLAnchorElement.prototype) && navigator.sendBeacon) {
    document.querySelectorAll("a[data-visit]").forEach((link) => link.addEventListener("click", () => {
      navigator.sendBeacon(link.dataset.visit);
    }));
  }
})();
