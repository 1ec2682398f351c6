"use strict";

// The agent's workspace: outcome sections follow the chosen disposition, and the
// keyboard drives the screen (listed under « Raccourcis clavier »).

function selectedFlags(form) {
  const checked = form.querySelector('input[name="disposition"]:checked');
  return checked ? (checked.dataset.flags || "").split(" ").filter(Boolean) : [];
}

function syncOutcomeSections() {
  const form = document.getElementById("outcome");
  if (!form) return;
  const flags = selectedFlags(form);
  form.querySelectorAll("[data-section]").forEach((section) => {
    const shown = flags.includes(section.dataset.section);
    section.hidden = !shown;
    section.querySelectorAll("input, select, textarea").forEach((field) => { field.disabled = !shown; });
  });
}

function isTyping(target) {
  // A radio or a checkbox takes no text: the keys still drive the screen from there.
  return target instanceof HTMLElement &&
    target.matches('input:not([type="radio"]):not([type="checkbox"]), textarea, select, [contenteditable]');
}

function clickIfPresent(id) {
  const element = document.getElementById(id);
  if (element && !element.disabled) { element.click(); return true; }
  return false;
}

document.addEventListener("change", (event) => {
  if (event.target.matches('input[name="disposition"]')) syncOutcomeSections();
});
document.addEventListener("htmx:afterSettle", syncOutcomeSections);
document.addEventListener("DOMContentLoaded", syncOutcomeSections);

document.addEventListener("keydown", (event) => {
  const form = document.getElementById("outcome");
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && form) {
    event.preventDefault();
    form.requestSubmit();
    return;
  }
  if (event.key === "Escape" && isTyping(event.target)) {
    event.target.blur();
    return;
  }
  if (isTyping(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key.toLowerCase();
  if (key === "n" && clickIfPresent("next-account")) { event.preventDefault(); return; }
  if (key === "a" && window.Softphone) { event.preventDefault(); window.Softphone.call(); return; }
  if (key === "h" && window.Softphone) { event.preventDefault(); window.Softphone.hangup(); return; }
  if (form && key.length === 1) {
    const quick = form.querySelector(`[data-quick-date][data-key="${key}"]`);
    if (quick && !quick.closest("[data-section]").hidden) {
      event.preventDefault();
      quick.click();
      return;
    }
  }
  if (/^[1-9]$/.test(event.key) && form) {
    const radio = form.querySelector(`input[name="disposition"][data-key="${event.key}"]`);
    if (radio) {
      event.preventDefault();
      radio.checked = true;
      radio.dispatchEvent(new Event("change", { bubbles: true }));
      radio.focus();
    }
  }
});

// After a refused save, put the cursor on the first field to correct.
document.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.xhr && event.detail.xhr.status === 422) {
    const invalid = document.querySelector('#outcome [aria-invalid="true"], #skip_reason[aria-invalid="true"]');
    if (invalid) invalid.focus();
  }
});

// The outcome is tied to the call the softphone placed.
document.addEventListener("softphone:state", (event) => {
  const field = document.getElementById("call-id");
  if (field && event.detail && event.detail.callId) field.value = event.detail.callId;
});

// Saving ends the call: an outcome saved while the line is still open (a voicemail
// playing) hangs up first, so the next debtor never inherits the old call.
document.addEventListener("htmx:confirm", (event) => {
  const form = event.detail.elt;
  const phone = window.Softphone;
  if (!(form instanceof HTMLFormElement) || form.id !== "outcome" || !phone) return;
  if (!["dialing", "ringing", "in_call"].includes(phone.state)) return;
  event.preventDefault();
  Promise.resolve(phone.hangup()).finally(() => event.detail.issueRequest(true));
});

// A quick date (« Dans une semaine », « Vendredi prochain », « Fin du mois ») fills the promised
// date; the amount is already the target amount: « 1 », a date key, Ctrl+Entrée.
document.addEventListener("click", (event) => {
  const quick = event.target.closest("[data-quick-date]");
  if (!quick) return;
  const field = document.getElementById("promise_date");
  if (field) field.value = quick.dataset.quickDate;
});
