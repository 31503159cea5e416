// The agent console: builds the incident from the form, calls the JSON API, and shows the
// answer with textContent only (nothing from the server is ever parsed as HTML).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const T = JSON.parse($("texts").textContent);
  let current = null; // the suggestion on screen, and the incident it answers
  let currentIncident = null;
  let suggestedText = "";
  let generation = 0; // each Suggest gets a number; an answer to an older one is dropped

  const tokenField = $("token");
  tokenField.value = sessionStorage.getItem("cxplay-token") || "";
  tokenField.addEventListener("change", () => sessionStorage.setItem("cxplay-token", tokenField.value));

  function status(text, isError) {
    $("status").textContent = text;
    $("status").className = isError ? "error" : "";
  }

  async function call(method, path, body) {
    const headers = { "Content-Type": "application/json" };
    if (tokenField.value) headers.Authorization = "Bearer " + tokenField.value.trim();
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      throw new Error((data && data.detail) || response.status + " " + response.statusText);
    }
    return data;
  }

  function showFacts() {
    const type = $("type").value.trim();
    for (const set of document.querySelectorAll("fieldset.facts")) {
      set.hidden = set.dataset.type !== type;
    }
  }

  let hintTimer = null;
  function hint() {
    clearTimeout(hintTimer);
    hintTimer = setTimeout(async () => {
      const type = $("type").value.trim();
      const answer = await fetch("/console/hint?type=" + encodeURIComponent(type)).then((r) => r.json()).catch(() => null);
      $("type-hint").textContent = answer && answer.did_you_mean ? "→ " + answer.did_you_mean + " ?" : "";
    }, 250);
  }
  $("type").addEventListener("input", () => { showFacts(); hint(); });
  $("type-hint").addEventListener("click", () => {
    const text = $("type-hint").textContent.replace(/^→ | \?$/g, "");
    if (text) { $("type").value = text; showFacts(); hint(); }
  });

  function value(id) { return $(id).value.trim(); }

  function incident() {
    const data = { type: value("type") };
    if (value("incident-id")) data.id = value("incident-id");
    if (value("channel")) data.channel = value("channel");
    if (value("description")) data.description = value("description");
    const customer = {};
    if (value("language")) customer.language = value("language");
    if (value("name")) customer.name = value("name");
    if (value("tier")) customer.tier = value("tier");
    if (Object.keys(customer).length) data.customer = customer;
    const order = {};
    if (value("order")) order.id = value("order");
    if (value("value")) order.value = Number(value("value"));
    if (value("currency")) order.currency = value("currency").toUpperCase();
    if (Object.keys(order).length) data.order = order;
    const facts = {};
    const set = document.querySelector('fieldset.facts[data-type="' + CSS.escape(data.type) + '"]');
    for (const field of set ? set.querySelectorAll("[data-fact]") : []) {
      const raw = field.value.trim();
      if (raw === "") continue;
      const kind = field.dataset.kind;
      if (kind === "boolean") facts[field.dataset.fact] = raw === "true";
      else if (kind === "number" || kind === "integer") facts[field.dataset.fact] = Number(raw);
      else if (kind === "list") facts[field.dataset.fact] = raw.split(",").map((s) => s.trim());
      else facts[field.dataset.fact] = raw;
    }
    if (Object.keys(facts).length) data.facts = facts;
    return data;
  }

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  // Nothing stale, ever: before a request goes out and after an error, the last result is
  // taken off the page (and its buttons disabled), so no reply meant for another customer
  // can be copied or recorded.
  function clearResult() {
    current = null;
    currentIncident = null;
    suggestedText = "";
    const result = $("result");
    result.hidden = true;
    delete result.dataset.decision;
    $("answers").textContent = "";
    $("actions").tBodies[0].replaceChildren();
    $("trace").tBodies[0].replaceChildren();
    $("trace").hidden = true;
    $("subject").textContent = "";
    $("reply").value = "";
    $("outcome-status").textContent = "";
    for (const button of result.querySelectorAll("button")) {
      button.disabled = true;
      delete button.dataset.decision;
    }
  }

  function heading(suggestion, data) {
    const customer = data.customer || {};
    const parts = [
      suggestion.incident_id || data.id || T.no_id,
      customer.name,
      data.type,
      data.channel,
      (suggestion.reply && suggestion.reply.language) || customer.language,
      new Date().toLocaleTimeString(document.documentElement.lang),
    ];
    return T.answers + " " + parts.filter(Boolean).join(" · ");
  }

  function show(suggestion, data) {
    current = suggestion;
    currentIncident = data;
    const result = $("result");
    result.dataset.decision = suggestion.decision_id || "";
    $("answers").textContent = heading(suggestion, data);
    for (const button of result.querySelectorAll("button")) {
      button.disabled = false;
      button.dataset.decision = suggestion.decision_id || "";
    }
    result.hidden = false;
    $("severity").textContent = suggestion.severity;
    $("respond-by").textContent = suggestion.respond_by ? "· " + T.respond_by + " " + new Date(suggestion.respond_by).toLocaleString() : "";
    const body = $("actions").tBodies[0];
    body.replaceChildren();
    suggestion.actions.forEach((action, index) => {
      const row = body.insertRow();
      cell(row, String(index + 1));
      cell(row, action.kind);
      const why = cell(row, action.reason || action.rule);
      if (action.requires_approval) {
        const note = document.createElement("span");
        note.className = "approval";
        note.textContent = " (" + T.approval + ")";
        why.appendChild(note);
      }
      cell(row, action.cost ? action.cost.amount.toFixed(2) + " " + (action.cost.currency || "") : "");
    });
    const reply = suggestion.reply;
    $("subject-line").hidden = !(reply && reply.subject);
    $("subject").textContent = reply && reply.subject ? reply.subject : "";
    suggestedText = reply ? reply.body : "";
    $("reply").value = suggestedText;
    $("trace").hidden = true;
    $("explain").setAttribute("aria-expanded", "false");
    for (const button of document.querySelectorAll("#outcomes button")) {
      button.disabled = !suggestion.decision_id;
    }
    status(suggestion.matched ? "" : T.no_match, false);
    if (!suggestion.decision_id) status((suggestion.matched ? "" : T.no_match + " ") + T.no_log, false);
  }

  $("incident").addEventListener("submit", async (event) => {
    event.preventDefault();
    const mine = ++generation;
    clearResult();
    status(T.working, false);
    const data = incident();
    try {
      const suggestion = await call("POST", "/v1/suggest", data);
      if (mine === generation) show(suggestion, data);
    } catch (error) {
      if (mine !== generation) return;
      clearResult();
      status(error.message, true);
    }
  });

  // A button of the result acts only on the result it was enabled for.
  function fresh(button) {
    return current !== null && !$("result").hidden && button.dataset.decision === (current.decision_id || "");
  }

  $("copy").addEventListener("click", async () => {
    if (!fresh($("copy"))) return;
    const text = $("reply").value;
    try {
      await navigator.clipboard.writeText(text);
    } catch (error) { // no clipboard permission (plain http on another host): select and copy
      $("reply").select();
      document.execCommand("copy");
    }
    status(T.copied, false);
  });

  $("explain").addEventListener("click", async () => {
    const table = $("trace");
    if (!table.hidden) {
      table.hidden = true;
      $("explain").setAttribute("aria-expanded", "false");
      return;
    }
    if (!fresh($("explain"))) return;
    const mine = generation;
    try {
      const explained = await call("POST", "/v1/explain", currentIncident);
      if (mine !== generation) return;
      const body = table.tBodies[0];
      body.replaceChildren();
      for (const trace of explained.trace || []) {
        const row = body.insertRow();
        cell(row, trace.rule);
        cell(row, trace.matched ? "✓ " + (trace.outcome || "") : "✗");
        cell(row, trace.failed ? trace.failed + " (" + JSON.stringify(trace.value) + ")" : "");
      }
      table.hidden = false;
      $("explain").setAttribute("aria-expanded", "true");
    } catch (error) {
      status(error.message, true);
    }
  });

  for (const button of document.querySelectorAll("#outcomes button")) {
    button.addEventListener("click", async () => {
      if (!fresh(button) || !current.decision_id) return;
      let outcome = button.dataset.outcome;
      if (outcome === "accepted" && $("reply").value !== suggestedText) outcome = "edited";
      const decision = current.decision_id;
      try {
        await call("POST", "/v1/outcomes", { decision_id: decision, status: outcome });
        if (current && current.decision_id === decision) $("outcome-status").textContent = T.recorded + " " + T[outcome];
      } catch (error) {
        $("outcome-status").textContent = error.message;
      }
    });
  }

  clearResult();
  showFacts();
})();
