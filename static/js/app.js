"use strict";

// Tell the person when an htmx request fails instead of leaving the screen silent.
// A refusal (409) is swapped where the action was, like a form error (422): its partial
// says why. Other failures show the server's own French message when the answer has one.
document.addEventListener("htmx:responseError", (event) => {
  const xhr = event.detail.xhr;
  showRequestError(serverMessage(xhr) || "Le serveur a refusé la demande (" + xhr.status + "). Rechargez la page.");
});

function serverMessage(xhr) {
  const type = xhr.getResponseHeader("Content-Type") || "";
  if (!type.startsWith("text/html")) return "";
  const page = new DOMParser().parseFromString(xhr.responseText, "text/html");
  const found = page.querySelector("#error p, [role=alert]");
  return found ? found.textContent.trim() : "";
}
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
