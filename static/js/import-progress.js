// Live progress of a catalog import: polls the run's progress every second until it is over,
// then reloads the page once to show the full report.
(function () {
  const box = document.getElementById("progress");
  if (!box) return;
  const over = (state) => state === "done" || state === "failed";
  const tick = async () => {
    const response = await fetch(box.dataset.url, { credentials: "same-origin" });
    if (!response.ok) return setTimeout(tick, 2000);
    const p = await response.json();
    document.getElementById("state").textContent = p.state_label;
    document.getElementById("counts").textContent = `${p.done} / ${p.total} done, ${p.failed} failed`;
    document.getElementById("eta").textContent = p.seconds_left === null ? "" : `, about ${p.seconds_left} s left`;
    const bar = document.getElementById("bar");
    bar.max = Math.max(p.total, 1);
    bar.value = p.done;
    if (over(p.state)) {
      if (!over(box.dataset.initial)) window.location.reload();
      return;
    }
    setTimeout(tick, 1000);
  };
  box.dataset.initial = document.getElementById("state").dataset.state || "";
  tick();
})();
