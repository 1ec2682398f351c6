"use strict";

// Tell the person when an htmx request fails instead of leaving the screen silent.
document.addEventListener("htmx:responseError", (event) => {
  showRequestError("Le serveur a refusé la demande (" + event.detail.xhr.status + "). Rechargez la page.");
});
document.addEventListener("htmx:sendError", () => {
  showRequestError("Connexion au serveur perdue. Vérifiez le réseau puis réessayez.");
});

function showRequestError(message) {
  let box = document.getElementById("request-error");
  if (!box) {
    box = document.createElement("div");
    box.id = "request-error";
    box.setAttribute("role", "alert");
    document.body.appendChild(box);
  }
  box.textContent = message;
  box.hidden = false;
  setTimeout(() => { box.hidden = true; }, 8000);
}
