// Drag and drop a photo onto the photo-search box: it fills the file input and submits.
(function () {
  const form = document.getElementById("photo-form");
  if (!form) return;
  const input = document.getElementById("photo-input");
  ["dragenter", "dragover"].forEach((type) => form.addEventListener(type, (event) => {
    event.preventDefault();
    form.classList.add("dropping");
  }));
  ["dragleave", "drop"].forEach((type) => form.addEventListener(type, () => form.classList.remove("dropping")));
  form.addEventListener("drop", (event) => {
    event.preventDefault();
    if (!event.dataTransfer.files.length) return;
    input.files = event.dataTransfer.files;
    form.requestSubmit();
  });
})();
