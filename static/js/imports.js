"use strict";

// Upload progress of the import form: htmx reports the XHR upload progress, shown in <progress>.
// Only the form's own request counts, not the source list fetched when the kind changes.
document.addEventListener("htmx:xhr:progress", (event) => {
  const bar = document.getElementById("upload-progress");
  if (event.target.id !== "import-form" || !bar || !event.detail.lengthComputable) {
    return;
  }
  bar.hidden = false;
  bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
  const status = document.getElementById("upload-status");
  if (status) {
    status.textContent = bar.value < 100 ? "Envoi… " + bar.value + " %" : "Vérification du fichier…";
  }
});

document.addEventListener("htmx:beforeRequest", (event) => {
  if (event.target.id === "import-form" || event.target.id === "import-apply") {
    event.target.querySelectorAll("button").forEach((button) => { button.disabled = true; });
    if (event.target.id === "import-apply") {
      event.target.insertAdjacentText("beforeend", " Import en cours…");
    }
  }
});
