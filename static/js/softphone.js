"use strict";

// The agent's softphone. Two modes, chosen by the server (data-provider on #softphone):
// - "twilio": a Twilio.Device built from a short-lived token fetched from the app;
//   the call goes through the TwiML App, whose webhook dials the debtor.
// - "simulated": the app's simulator plays Twilio's part and the debtor's side.
// API for the workspace: window.Softphone.call(debtorId, contactId), hangup(),
// mute(bool), dtmf(digit); every change is announced on document as
// "softphone:state" with detail {state, callId}.
(function () {
  if (window.Softphone) {
    window.Softphone.attach();
    return;
  }

  const STATE_TEXT = {
    idle: "Prêt à appeler.",
    dialing: "Numérotation…",
    ringing: "Ça sonne…",
    in_call: "En communication",
    ended: "Appel terminé.",
  };
  const TWILIO_ERRORS = {
    20101: "jeton d'accès refusé",
    20104: "jeton d'accès expiré",
    31000: "erreur générale du service",
    31005: "connexion au service perdue",
    31009: "aucun transport disponible (réseau bloqué ?)",
    31201: "micro indisponible",
    31204: "jeton d'accès invalide",
    31208: "accès au micro refusé par le navigateur",
    31401: "accès au micro refusé",
    31402: "micro introuvable",
    53000: "connexion au service impossible (réseau)",
  };

  const sp = {
    root: null,
    device: null,
    activeCall: null,
    callId: null,
    state: "idle",
    muted: false,
    pollTimer: null,
    wrapUpTimer: null,
  };

  function el(role) {
    return sp.root ? sp.root.querySelector(`[data-role="${role}"]`) : null;
  }
  function button(action) {
    return sp.root ? sp.root.querySelector(`[data-action="${action}"]`) : null;
  }
  function showError(message) {
    const box = el("error");
    if (!box) return;
    box.textContent = message || "";
    box.hidden = !message;
  }
  function twilioMessage(error) {
    const code = error && (error.code || (error.twilioError && error.twilioError.code));
    const known = TWILIO_ERRORS[code];
    return "Erreur du softphone" + (code ? ` (code ${code})` : "") + " : " +
      (known || "vérifiez le micro et la connexion, puis réessayez.");
  }

  async function post(url, data) {
    const body = data instanceof FormData ? data : new URLSearchParams(data || {});
    const response = await fetch(url, {
      method: "POST",
      body,
      headers: { "X-CSRFToken": sp.root.dataset.csrf, Accept: "application/json" },
      credentials: "same-origin",
    });
    return readJson(response);
  }
  async function get(url) {
    const response = await fetch(url, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    return readJson(response);
  }
  async function readJson(response) {
    let payload = {};
    try {
      payload = await response.json();
    } catch (_error) {
      payload = { error: `Réponse inattendue du serveur (${response.status}).` };
    }
    if (!response.ok) {
      const error = new Error(payload.error || `Refusé par le serveur (${response.status}).`);
      error.payload = payload;
      throw error;
    }
    return payload;
  }

  function callUrl(suffix) {
    return `${sp.root.dataset.callsUrl}/${sp.callId}${suffix}`;
  }

  function setState(state, callId) {
    const changed = state !== sp.state || callId !== sp.callId;
    sp.state = state;
    sp.callId = callId;
    render();
    if (changed) {
      document.dispatchEvent(new CustomEvent("softphone:state", { detail: { state, callId } }));
    }
  }

  function render() {
    if (!sp.root) return;
    const live = ["dialing", "ringing", "in_call"].includes(sp.state);
    const status = el("status");
    if (status && !status.dataset.detail) status.textContent = STATE_TEXT[sp.state] || sp.state;
    button("call").disabled = live;
    button("hangup").disabled = !live;
    button("mute").disabled = sp.state !== "in_call";
    button("keypad").disabled = sp.state !== "in_call";
    const objection = button("object");
    if (objection) objection.disabled = !sp.callId;
    const simulator = el("simulator");
    if (simulator) {
      simulator.disabled = !sp.callId;
      simulator.querySelectorAll("[data-outcome]").forEach((item) => {
        item.disabled = !["dialing", "ringing"].includes(sp.state);
      });
      const file = el("recording-file");
      if (file) file.disabled = sp.state !== "ended";
    }
    const link = el("call-link");
    if (link) {
      link.hidden = !sp.callId;
      if (sp.callId) link.querySelector("a").href = callUrl("");
    }
  }

  function applyServer(payload) {
    const status = el("status");
    if (status) {
      delete status.dataset.detail;
      if (payload.statusLabel && payload.state !== "idle") {
        let text = payload.statusLabel;
        if (payload.state === "in_call" && payload.answeredByLabel) {
          text += ` (${payload.answeredByLabel})`;
        }
        if (payload.status === "completed" && payload.durationSeconds !== null) {
          text += ` — durée ${formatDuration(payload.durationSeconds)}`;
        }
        status.textContent = text;
        status.dataset.detail = "1";
      }
    }
    if (payload.agentStateLabel) showAgentState(payload.agentStateLabel);
    setState(payload.state, payload.callId === undefined ? sp.callId : payload.callId);
    if (payload.state === "ended") stopPolling();
    wrapUpCountdown(payload);
  }

  // One state on screen: the toolbar's badge and the softphone's say the same, updated live.
  function showAgentState(text) {
    document.querySelectorAll('#agent-state, #softphone [data-role="agent-state"]').forEach((badge) => {
      badge.textContent = text;
    });
  }

  function formatDuration(seconds) {
    const minutes = Math.floor(seconds / 60);
    const rest = seconds % 60;
    return minutes ? `${minutes} min ${String(rest).padStart(2, "0")} s` : `${rest} s`;
  }

  function wrapUpCountdown(payload) {
    clearInterval(sp.wrapUpTimer);
    sp.wrapUpTimer = null;
    if (payload.agentState !== "wrap_up" || payload.wrapUpSecondsLeft == null) return;
    // The server says how long is left: the browser's own clock may be set differently.
    const limit = performance.now() + payload.wrapUpSecondsLeft * 1000;
    const tick = () => {
      const left = Math.max(0, Math.round((limit - performance.now()) / 1000));
      showAgentState(`Post-appel ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`);
      if (left === 0) {
        clearInterval(sp.wrapUpTimer);
        sp.wrapUpTimer = null;
        post(sp.root.dataset.endWrapUpUrl).then(applyServer).catch((error) => showError(error.message));
      }
    };
    tick();
    sp.wrapUpTimer = setInterval(tick, 1000);
  }

  function startPolling() {
    stopPolling();
    sp.pollTimer = setInterval(() => {
      if (!sp.callId) return;
      get(callUrl("/etat")).then(applyServer).catch(() => {});
    }, 2000);
  }
  function stopPolling() {
    clearInterval(sp.pollTimer);
    sp.pollTimer = null;
  }

  // --- Twilio Device ---------------------------------------------------------------------------

  async function fetchToken() {
    const payload = await get(sp.root.dataset.tokenUrl);
    return payload.token;
  }

  async function ensureDevice() {
    if (sp.device) return sp.device;
    if (!window.Twilio || !window.Twilio.Device) {
      throw new Error("Le composant téléphonique Twilio n'est pas chargé : rechargez la page.");
    }
    const token = await fetchToken();
    const device = new window.Twilio.Device(token, {
      closeProtection: "Un appel est en cours : quitter la page le couperait.",
      codecPreferences: ["opus", "pcmu"],
      logLevel: "error",
    });
    device.on("registered", () => { deviceInfo("Softphone prêt."); });
    device.on("unregistered", () => { deviceInfo("Softphone hors ligne."); });
    device.on("error", (error) => { showError(twilioMessage(error)); });
    device.on("tokenWillExpire", () => {
      fetchToken().then((fresh) => device.updateToken(fresh)).catch((error) => showError(error.message));
    });
    sp.device = device;
    return device;
  }

  function deviceInfo(text) {
    const info = el("device");
    if (info) info.textContent = text;
  }

  async function connectDevice(params) {
    const device = await ensureDevice();
    const call = await device.connect({ params });
    sp.activeCall = call;
    call.on("ringing", () => setState("ringing", sp.callId));
    call.on("accept", () => setState("in_call", sp.callId));
    call.on("disconnect", () => { sp.activeCall = null; refresh(); });
    call.on("cancel", () => { sp.activeCall = null; refresh(); });
    call.on("reject", () => { sp.activeCall = null; refresh(); });
    call.on("error", (error) => showError(twilioMessage(error)));
    startPolling();
  }

  function refresh() {
    if (!sp.callId) return;
    get(callUrl("/etat")).then(applyServer).catch((error) => showError(error.message));
  }

  // --- the API ---------------------------------------------------------------------------------

  async function call(debtorId, contactId) {
    attach(); // a key pressed just after the brief was swapped in, before htmx:load
    if (!sp.root) return;
    showError("");
    const debtor = debtorId || sp.root.dataset.debtorId;
    const contact = contactId || sp.root.dataset.contactId;
    try {
      const payload = await post(sp.root.dataset.callsUrl, { debtor_id: debtor || "", contact_id: contact || "" });
      applyServer(payload);
      if (payload.mode === "device") await connectDevice(payload.params);
    } catch (error) {
      showError(error.message || twilioMessage(error));
      if (sp.callId && sp.state !== "ended") refresh();
    }
  }

  async function hangup() {
    if (!sp.root) return;
    if (sp.activeCall) {
      sp.activeCall.disconnect();
      return;
    }
    if (!sp.callId) return;
    try {
      applyServer(await post(callUrl("/raccrocher")));
    } catch (error) {
      showError(error.message);
    }
  }

  function mute(on) {
    sp.muted = Boolean(on);
    if (sp.activeCall) sp.activeCall.mute(sp.muted);
    const item = button("mute");
    if (item) {
      item.setAttribute("aria-pressed", String(sp.muted));
      item.textContent = sp.muted ? "Micro coupé" : "Muet";
    }
  }

  function dtmf(digit) {
    if (!/^[0-9*#]$/.test(String(digit))) return;
    if (sp.activeCall) sp.activeCall.sendDigits(String(digit));
    const digits = el("digits");
    if (digits) digits.textContent += String(digit);
  }

  async function simulate(outcome) {
    try {
      applyServer(await post(callUrl(`/simulation/${outcome}`)));
    } catch (error) {
      showError(error.message);
    }
  }

  async function attachRecording(file) {
    const data = new FormData();
    data.append("audio", file);
    try {
      applyServer(await post(callUrl("/simulation/enregistrement"), data));
      deviceInfo("Enregistrement joint à l'appel.");
    } catch (error) {
      showError(error.message);
    }
  }

  async function object() {
    try {
      const payload = await post(callUrl("/opposition"));
      deviceInfo(payload.message);
    } catch (error) {
      showError(error.message);
    }
  }

  async function changeState(choice) {
    const [state, pauseCode] = choice.split(":");
    try {
      applyServer(await post(sp.root.dataset.stateUrl, { state, pause_code: pauseCode || "" }));
    } catch (error) {
      showError(error.message);
    }
  }

  function attach() {
    const root = document.getElementById("softphone");
    if (!root || root === sp.root) return;
    sp.root = root;
    root.addEventListener("click", (event) => {
      const target = event.target.closest("button");
      if (!target || target.disabled) return;
      if (target.dataset.outcome) return simulate(target.dataset.outcome);
      if (target.dataset.digit) return dtmf(target.dataset.digit);
      switch (target.dataset.action) {
        case "call": return call();
        case "hangup": return hangup();
        case "mute": return mute(!sp.muted);
        case "object": return object();
        case "keypad": {
          const pad = el("keypad");
          pad.hidden = !pad.hidden;
          target.setAttribute("aria-expanded", String(!pad.hidden));
          return undefined;
        }
        default: return undefined;
      }
    });
    const file = el("recording-file");
    if (file) file.addEventListener("change", () => { if (file.files[0]) attachRecording(file.files[0]); });
    const form = el("state-form");
    if (form) {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        changeState(form.elements.state_choice.value);
      });
    }
    render();
    get(root.dataset.stateUrl).then((payload) => {
      applyServer(payload);
      root.dataset.ready = "1";
      if (payload.callId && root.dataset.provider === "twilio" && payload.state !== "ended") startPolling();
    }).catch((error) => showError(error.message));
    if (root.dataset.provider === "twilio") {
      deviceInfo("Connexion du softphone…");
      ensureDevice()
        .then((device) => device.register())
        .catch((error) => { deviceInfo(""); showError(error.message && !error.code ? error.message : twilioMessage(error)); });
    }
  }

  window.Softphone = {
    call, hangup, mute, dtmf, attach,
    get state() { return sp.state; },
    get callId() { return sp.callId; },
    get device() { return sp.device; },
  };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", attach);
  } else {
    attach();
  }
  document.addEventListener("htmx:load", attach);
})();
