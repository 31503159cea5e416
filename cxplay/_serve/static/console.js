// The agent console: builds the incident from the form, calls the JSON API, and shows the
// answer with textContent only (nothing from the server is ever parsed as HTML).
//
// Nothing stale, ever: Suggest takes the last result off the page before the request goes
// out, an error replaces it, and every button of a result acts only on that result.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const json = (id) => JSON.parse($(id).textContent);
  const T = json("texts");
  const L = json("labels");
  const TYPES = json("types-data");
  const LANG = document.documentElement.lang;
  const LOG = document.querySelector("main").dataset.log === "on";
  let current = null; // the suggestion on screen, and the incident it answers
  let currentIncident = null;
  let suggestedText = "";
  let generation = 0; // each Suggest gets a number; an answer to an older one is dropped
  let rules = null; // rule id -> {when, types}, fetched for Explain
  let countdown = null;

  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_, key) => (key in values ? String(values[key]) : ""));
  const human = (id) => String(id).replace(/_/g, " ");
  const typeTitle = (type) => (L.types && L.types[type]) || type;
  const channelTitle = (channel) => (L.channels && L.channels[channel]) || channel;
  const actionTitle = (kind) => (L.actions && L.actions[kind]) || kind;
  const named = (value) => (L.values && L.values[value]) || human(value); // shift_manager, ...

  // -- tokens: this tab only -------------------------------------------------------------
  const tokenField = $("token");
  if (tokenField) {
    tokenField.value = sessionStorage.getItem("cxplay-token") || "";
    tokenField.addEventListener("change", () => sessionStorage.setItem("cxplay-token", tokenField.value.trim()));
  }

  function status(text, isError, details) {
    const box = $("status");
    box.replaceChildren();
    box.className = isError ? "error" : "";
    if (text) {
      const line = document.createElement("p");
      line.textContent = text;
      box.appendChild(line);
    }
    if (details && details.length) {
      const more = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = T.error_details;
      more.appendChild(summary);
      for (const detail of details) {
        const code = document.createElement("code");
        code.textContent = detail;
        more.appendChild(code);
      }
      box.appendChild(more);
    }
  }

  class ApiError extends Error {
    constructor(status, lines) {
      super(lines.join("; "));
      this.status = status;
      this.lines = lines;
    }
  }

  async function call(method, path, body) {
    const headers = { "Content-Type": "application/json" };
    if (tokenField && tokenField.value.trim()) headers.Authorization = "Bearer " + tokenField.value.trim();
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const lines = (data && data.errors && data.errors.length ? data.errors : [(data && data.detail) || response.status + " " + response.statusText]);
      throw new ApiError(response.status, lines);
    }
    return data;
  }

  // -- the incident type: titles, searchable, did-you-mean ---------------------------------
  function typeOf(text) {
    const wanted = text.trim().toLocaleLowerCase(LANG);
    if (!wanted) return "";
    for (const info of TYPES) {
      if (info.type.toLowerCase() === wanted || info.title.toLocaleLowerCase(LANG) === wanted) return info.type;
    }
    return null; // not one of the list
  }

  function distance(a, b) {
    const row = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
      let previous = row[0];
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const keep = row[j];
        row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
        previous = keep;
      }
    }
    return row[b.length];
  }

  function nearestType(text) {
    const wanted = text.trim().toLocaleLowerCase(LANG);
    let best = null;
    let bestScore = Infinity;
    for (const info of TYPES) {
      for (const name of [info.type, info.title.toLocaleLowerCase(LANG)]) {
        const score = distance(wanted, name) / Math.max(name.length, 1);
        if (score < bestScore) { bestScore = score; best = info; }
      }
      if (info.title.toLocaleLowerCase(LANG).includes(wanted) && wanted.length >= 3) return info;
    }
    return bestScore <= 0.4 ? best : null;
  }

  function showFacts() {
    const type = typeOf($("type").value);
    for (const set of document.querySelectorAll("fieldset.facts")) {
      set.hidden = set.dataset.type !== type;
    }
  }

  function hint() {
    const text = $("type").value;
    const box = $("type-hint");
    box.replaceChildren();
    if (!text.trim() || typeOf(text) !== null) return;
    const near = nearestType(text);
    if (!near) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    button.textContent = fill(T.did_you_mean, { title: near.title });
    button.addEventListener("click", () => {
      $("type").value = near.title;
      showFacts();
      hint();
      clearFieldError($("type"));
      $("type").focus();
    });
    box.appendChild(button);
  }
  $("type").addEventListener("input", () => { showFacts(); hint(); });
  $("type").addEventListener("change", () => { // an id typed in becomes its title
    const type = typeOf($("type").value);
    const info = TYPES.find((t) => t.type === type);
    if (info) $("type").value = info.title;
  });

  function value(id) { return $(id).value.trim(); }

  // -- errors next to the field at fault --------------------------------------------------
  function errorBox(field) {
    return $(field.id + "-error");
  }

  function setFieldError(field, message) {
    field.setAttribute("aria-invalid", "true");
    const box = errorBox(field);
    if (box) box.textContent = message;
  }

  function clearFieldError(field) {
    field.removeAttribute("aria-invalid");
    const box = errorBox(field);
    if (box) box.textContent = "";
  }

  function clearErrors() {
    for (const field of document.querySelectorAll("[aria-invalid]")) clearFieldError(field);
    if ($("token-error")) $("token-error").textContent = "";
  }

  function factField(type, name) {
    return document.getElementById("fact-" + type + "-" + name);
  }

  // What the form says before anything is sent: a missing type or required fact, a number
  // out of its range. Returns the fields at fault.
  function checkForm() {
    const wrong = [];
    const type = typeOf($("type").value);
    if (!type) {
      setFieldError($("type"), T.unknown_type);
      wrong.push($("type"));
      return wrong;
    }
    const set = document.querySelector('fieldset.facts[data-type="' + CSS.escape(type) + '"]');
    for (const field of set ? set.querySelectorAll("[data-fact]") : []) {
      const raw = field.value.trim();
      const title = field.dataset.title;
      if (raw === "" && field.required) {
        setFieldError(field, fill(T.needed, { fact: title, type: typeTitle(type) }));
        wrong.push(field);
      } else if (raw !== "" && (field.dataset.kind === "number" || field.dataset.kind === "integer")) {
        const number = Number(raw);
        if (!Number.isFinite(number) || (field.dataset.kind === "integer" && !Number.isInteger(number))) {
          setFieldError(field, fill(T.not_number, { fact: title }));
          wrong.push(field);
        } else if (field.min !== "" && number < Number(field.min)) {
          setFieldError(field, fill(T.out_of_range_min, { fact: title, n: field.min }));
          wrong.push(field);
        } else if (field.max !== "" && number > Number(field.max)) {
          setFieldError(field, fill(T.out_of_range_max, { fact: title, n: field.max }));
          wrong.push(field);
        }
      }
    }
    return wrong;
  }

  // The service's one-line errors, put next to the field they name, in agent words.
  function placeServerErrors(lines, type) {
    const placed = [];
    for (const line of lines) {
      let match;
      let field = null;
      let message = null;
      if ((match = /needs fact '(\w+)'/.exec(line))) {
        field = factField(type, match[1]);
        message = field && fill(T.needed, { fact: field.dataset.title, type: typeTitle(type) });
      } else if ((match = /facts\.(\w+): must be at least ([-\d.]+)/.exec(line))) {
        field = factField(type, match[1]);
        message = field && fill(T.out_of_range_min, { fact: field.dataset.title, n: match[2] });
      } else if ((match = /facts\.(\w+): must be at most ([-\d.]+)/.exec(line))) {
        field = factField(type, match[1]);
        message = field && fill(T.out_of_range_max, { fact: field.dataset.title, n: match[2] });
      } else if (/unknown incident type/.test(line)) {
        field = $("type");
        message = T.unknown_type;
      } else if (/order\.currency/.test(line)) {
        field = $("currency");
      } else if (/order\.value/.test(line)) {
        field = $("value");
      } else if (/customer\.language/.test(line)) {
        field = $("language");
      }
      if (field) {
        setFieldError(field, message || line.replace(/^invalid incident: /, ""));
        placed.push(field);
      }
    }
    return placed;
  }

  function incident() {
    const type = typeOf($("type").value);
    const data = { type: type || value("type") };
    if (value("incident-id")) data.id = value("incident-id");
    if (value("channel")) data.channel = value("channel");
    if (value("description")) data.description = value("description");
    const customer = {};
    if (value("language")) customer.language = value("language");
    if (value("name")) customer.name = value("name");
    if (value("customer-id")) customer.id = value("customer-id");
    if (value("tier")) customer.tier = value("tier");
    if (Object.keys(customer).length) data.customer = customer;
    const order = {};
    if (value("order")) order.id = value("order");
    if (value("value")) order.value = Number(value("value"));
    if (value("currency")) order.currency = value("currency");
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
    // the incident's own fields a correlation keys on: order.carrier, event.id, ...
    for (const field of set ? set.querySelectorAll("[data-path]") : []) {
      const raw = field.value.trim();
      if (raw === "") continue;
      const [head, tail] = field.dataset.path.split(".");
      data[head] = Object.assign(data[head] || {}, { [tail]: raw });
    }
    return data;
  }

  // -- words for times and amounts --------------------------------------------------------
  function duration(iso) {
    const match = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?$/.exec(iso || "");
    if (!match) return null;
    const [, w, d, h, m, s] = match.map((x) => Number(x || 0));
    return ((((w * 7 + d) * 24 + h) * 60 + m) * 60 + s) * 1000;
  }

  function moment(date) {
    const now = new Date();
    const sameDay = date.toDateString() === now.toDateString();
    const options = sameDay ? { hour: "2-digit", minute: "2-digit" } : { day: "numeric", month: "long", hour: "2-digit", minute: "2-digit" };
    return new Intl.DateTimeFormat(LANG, options).format(date);
  }

  function deadline(iso) {
    const ms = duration(iso);
    return ms === null ? iso : moment(new Date(Date.now() + ms));
  }

  function span(ms) {
    const minutes = Math.round(Math.abs(ms) / 60000);
    const unit = (n, u) => new Intl.NumberFormat(LANG, { style: "unit", unit: u, unitDisplay: "short" }).format(n);
    if (minutes < 60) return unit(minutes, "minute");
    const hours = Math.floor(minutes / 60);
    if (hours < 48) return unit(hours, "hour") + (minutes % 60 ? " " + unit(minutes % 60, "minute") : "");
    return unit(Math.floor(hours / 24), "day");
  }

  function days(n) {
    return new Intl.NumberFormat(LANG, { style: "unit", unit: "day", unitDisplay: "long" }).format(n);
  }

  function money(amount, currency) {
    if (!currency) return new Intl.NumberFormat(LANG).format(amount);
    try {
      return new Intl.NumberFormat(LANG, { style: "currency", currency }).format(amount);
    } catch (error) {
      return new Intl.NumberFormat(LANG).format(amount) + " " + currency;
    }
  }

  // An action's substance in words: what, how much, by when.
  function describe(action) {
    const p = action.params || {};
    const cost = action.cost;
    switch (action.kind) {
      case "refund":
        if (cost) return fill(T.refund_amount, { amount: money(cost.amount, cost.currency) });
        return p.percent ? fill(T.refund_percent, { percent: p.percent }) : actionTitle("refund");
      case "discount":
        if (cost || p.amount) return fill(T.discount_amount, { amount: cost ? money(cost.amount, cost.currency) : money(p.amount), days: days(p.days_valid || 30) });
        return fill(T.discount_percent, { percent: p.percent, days: days(p.days_valid || 30) });
      case "free_shipping":
        return T["free_shipping_" + (p.on || "next_order")] || actionTitle("free_shipping");
      case "replacement":
        return p.express ? T.replacement_express : T.replacement;
      case "plan_b":
        return fill(T.plan_b, { options: (p.options || []).map(named).join(", ") });
      case "escalate":
        return fill(T.escalate, { to: named(p.to || "") }) + (p.within ? ", " + fill(T.within, { when: deadline(p.within) }) : "");
      case "follow_up":
        return fill(T.follow_up, { when: deadline(p.after) }) + (p.channel ? ", " + fill(T.by_channel, { channel: channelTitle(p.channel) }) : "");
      case "callback":
        return fill(T.callback, { when: deadline(p.within) });
      case "inform":
        return fill(T.inform, { topic: named(p.topic || "") });
      case "gesture":
        return fill(T.gesture, { item: named(p.item || "") }) + (cost ? " (" + money(cost.amount, cost.currency) + ")" : "");
      case "move_private":
        return fill(T.move_private, { channel: channelTitle(p.to || "social_private") });
      case "survey":
        return fill(T.survey, { survey: (p.survey || "csat").toUpperCase(), when: deadline(p.after) }) + (p.channel ? ", " + fill(T.by_channel, { channel: channelTitle(p.channel) }) : "");
      default:
        return actionTitle(action.kind);
    }
  }

  // -- SMS: characters and segments (GSM 03.38 or UCS-2) ----------------------------------
  const GSM = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  const GSM_EXTENDED = "^{}\\[~]|€\f";
  // As cxplay/_replies/sms.py counts: a character's units are never split between parts.
  function pack(units, single, perPart) {
    const total = units.reduce((n, u) => n + u, 0);
    if (total === 0) return 0;
    if (total <= single) return 1;
    let parts = 1;
    let used = 0;
    for (const size of units) {
      if (used + size > perPart) { parts += 1; used = 0; }
      used += size;
    }
    return parts;
  }

  function smsCount(text) {
    const chars = [...text];
    if (chars.every((c) => GSM.includes(c) || GSM_EXTENDED.includes(c))) {
      const units = chars.map((c) => (GSM.includes(c) ? 1 : 2));
      return { chars: units.reduce((n, u) => n + u, 0), segments: pack(units, 160, 153), encoding: "GSM-7" };
    }
    const units = chars.map((c) => (c.codePointAt(0) > 0xffff ? 2 : 1));
    return { chars: units.reduce((n, u) => n + u, 0), segments: pack(units, 70, 67), encoding: "UCS-2" };
  }

  function updateSms() {
    if (!current || !current.reply || current.reply.channel !== "sms") return;
    $("sms-count").textContent = fill(T.sms_count, smsCount($("reply").value));
  }

  function fitReply() {
    const area = $("reply");
    area.style.height = "auto";
    area.style.height = area.scrollHeight + 2 + "px";
  }
  $("reply").addEventListener("input", () => { fitReply(); updateSms(); });

  // -- the result -----------------------------------------------------------------------
  function clearResult() {
    current = null;
    currentIncident = null;
    suggestedText = "";
    clearInterval(countdown);
    const result = $("result");
    result.hidden = true;
    delete result.dataset.decision;
    $("answers").textContent = "";
    $("actions").tBodies[0].replaceChildren();
    $("follow-ups").replaceChildren();
    for (const id of ["trace-matched", "trace-near", "trace-other", "script"]) $(id).replaceChildren();
    $("trace").hidden = true;
    $("subject").textContent = "";
    $("reply").value = "";
    $("history").replaceChildren();
    $("disruption").replaceChildren();
    $("recent-list").replaceChildren();
    $("disruption").hidden = true;
    $("recent").hidden = true;
    for (const id of ["outcome-status", "respond-by", "sms-count"]) $(id).textContent = "";
    for (const id of ["reject-reason", "given", "note"]) $(id).value = "";
    for (const button of result.querySelectorAll("button")) {
      button.disabled = true;
      delete button.dataset.decision;
    }
  }

  function heading(suggestion, data, ticket) {
    const customer = data.customer || {};
    const parts = [
      ticket || T.no_id,
      customer.name,
      typeTitle(data.type),
      data.channel ? channelTitle(data.channel) : null,
      ((suggestion.reply && suggestion.reply.language) || customer.language || "").toUpperCase(),
      new Date().toLocaleTimeString(LANG, { hour: "2-digit", minute: "2-digit" }),
    ];
    return T.answers + ": " + parts.filter(Boolean).join(" · ");
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function showCountdown(iso) {
    const box = $("respond-by");
    const due = new Date(iso);
    const tick = () => {
      const left = due - Date.now();
      box.textContent = T.respond_by + " " + moment(due) + " (" + fill(left < 0 ? T.overdue : T.in_time, { d: span(left) }) + ")";
      box.className = left < 0 ? "badge overdue" : "badge";
    };
    tick();
    countdown = setInterval(tick, 15000);
  }

  function showActions(actions) {
    const body = $("actions").tBodies[0];
    let reasonCell = null;
    let lastReason = null;
    actions.forEach((action, index) => {
      const row = body.insertRow();
      cell(row, String(index + 1));
      const what = cell(row, "");
      const title = document.createElement("strong");
      title.textContent = actionTitle(action.kind);
      title.title = action.kind + " · " + action.rule;
      what.appendChild(title);
      const words = describe(action);
      if (words && words !== title.textContent) {
        what.appendChild(document.createElement("br"));
        what.appendChild(document.createTextNode(words));
      }
      if (action.requires_approval) {
        const badge = document.createElement("span");
        badge.className = "badge approval";
        badge.textContent = T.approval;
        what.appendChild(document.createTextNode(" "));
        what.appendChild(badge);
      }
      const reason = [(L.reasons && L.reasons[action.rule]) || action.reason || "", approvalBecause(action)].filter(Boolean).join(" — ");
      if (reasonCell && reason === lastReason) {
        reasonCell.rowSpan += 1; // one reason, shown once, for the actions that share it
      } else {
        reasonCell = cell(row, reason, "reason");
        lastReason = reason;
      }
      cell(row, action.cost ? money(action.cost.amount, action.cost.currency) : "", "number");
    });
  }

  function showFollowUps(plans) {
    const list = $("follow-ups");
    for (const plan of plans) {
      const item = document.createElement("li");
      let text = actionTitle(plan.action);
      if (plan.survey) text += " " + plan.survey.toUpperCase();
      if (plan.channel) text += ", " + fill(T.by_channel, { channel: channelTitle(plan.channel) });
      if (plan.due) text += " — " + T.due + ": " + moment(new Date(plan.due));
      item.textContent = text;
      list.appendChild(item);
    }
    $("follow-ups-box").hidden = plans.length === 0;
  }

  function showHistory(history) {
    const box = $("history");
    box.replaceChildren();
    box.hidden = !history;
    if (!history) return;
    const title = document.createElement("strong");
    title.textContent = T.history + ": ";
    box.appendChild(title);
    const amounts = (history.amounts_90d || []).map((a) => money(a.amount, a.currency));
    box.appendChild(document.createTextNode(
      history.compensations_90d ? history.compensations_90d + (amounts.length ? " (" + amounts.join(", ") + ")" : "") : T.history_none,
    ));
    box.className = history.compensations_90d ? "note warn" : "note";
  }

  // The customer's earlier decisions (from the log), so that a repeat claim is seen before
  // the agent answers; the one on screen is left out.
  // Why a person decides, in the agent's language. The engine says it in English (the JSON
  // contract); the one case it has, a currency with no rate, is said again from its parts.
  function approvalBecause(action) {
    const because = action.params && action.params.approval_because;
    if (!because) return "";
    const match = /^the order is in (\S+) and .* its limits \(in (\S+)\) cannot be checked/.exec(because);
    return match ? fill(T.no_rate, { currency: match[1], policy: match[2] }) : because;
  }

  const RECENT_SHOWN = 3;
  function showRecent(recent, decision) {
    const box = $("recent");
    const list = $("recent-list");
    list.replaceChildren();
    box.hidden = !recent;
    if (!recent) return;
    const earlier = recent.decisions.filter((d) => d.decision_id !== decision).slice(0, 5);
    box.className = earlier.some((d) => d.given.length) ? "note warn" : "note";
    if (!earlier.length) {
      const item = document.createElement("li");
      item.textContent = T.recent_none;
      list.appendChild(item);
      return;
    }
    const line = (d) => {
      const given = d.given.length
        ? d.given.map((g) => actionTitle(g.kind) + (g.amount != null ? " " + money(g.amount, g.currency) : "")).join(", ")
        : T.nothing_given;
      const parts = [moment(new Date(d.created_at)), typeTitle(d.type), d.actions.map(actionTitle).join(", "), given, d.status ? T[d.status] : T.no_outcome];
      const item = document.createElement("li");
      item.textContent = parts.filter(Boolean).join(" · ");
      item.title = d.decision_id + (d.incident_id ? " · " + d.incident_id : "");
      return item;
    };
    // the newest few in view; the rest folded, so the reply stays on a laptop's screen
    for (const d of earlier.slice(0, RECENT_SHOWN)) list.appendChild(line(d));
    const rest = earlier.slice(RECENT_SHOWN);
    if (rest.length) {
      const item = document.createElement("li");
      const more = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = fill(T.recent_more, { n: new Intl.NumberFormat(LANG).format(rest.length) });
      const inner = document.createElement("ul");
      inner.className = "recent";
      for (const d of rest) inner.appendChild(line(d));
      more.append(summary, inner);
      item.appendChild(more);
      list.appendChild(item);
    }
  }

  // The open disruption this incident belongs to: link the ticket, do not compensate it alone.
  function showDisruption(match) {
    const box = $("disruption");
    box.replaceChildren();
    const d = match && match.disruption;
    box.hidden = !d;
    if (!d) return;
    const plural = new Intl.PluralRules(LANG).select(d.members);
    const customers = fill(T["customers_" + plural] || T.customers_other, { n: new Intl.NumberFormat(LANG).format(d.members) });
    const notice = d.notice_at || d.first_notice_at;
    const title = (L.disruptions && L.disruptions[d.correlation]) || d.title || d.correlation;
    const key = Array.isArray(d.key) ? d.key.join(", ") : String(d.key);
    const line = document.createElement("strong");
    line.textContent = fill(notice ? T.part_of : T.part_of_no_notice, { title, key, customers, time: notice ? moment(new Date(notice)) : "" });
    box.appendChild(line);
    const advice = document.createElement("p");
    advice.textContent = T.link_advice;
    box.appendChild(advice);
    box.title = d.disruption_id;
  }

  // What the log knows around an incident, asked beside the suggestion; a failure here
  // never stops the suggestion (the panels stay hidden).
  function context(data) {
    if (!LOG) return Promise.resolve([null, null]);
    const quiet = (promise) => promise.catch(() => null);
    const customer = data.customer && data.customer.id;
    return Promise.all([
      customer ? quiet(call("GET", "/v1/decisions?limit=6&customer_id=" + encodeURIComponent(customer))) : null,
      quiet(call("POST", "/v1/disruptions/match", data)),
    ]);
  }

  function showReply(reply) {
    const spoken = reply && (reply.channel === "phone" || reply.channel === "in_person");
    $("subject-line").hidden = !(reply && reply.subject);
    $("subject").textContent = reply && reply.subject ? reply.subject : "";
    $("copy-subject").hidden = !(reply && reply.subject);
    suggestedText = reply ? reply.body : "";
    $("reply").value = suggestedText;
    $("reply-about").textContent = reply ? "(" + reply.language.toUpperCase() + ", " + channelTitle(reply.channel) + ")" : "";
    const script = $("script");
    script.hidden = !spoken;
    $("reply").hidden = spoken;
    if (spoken) {
      for (const turn of suggestedText.split(/\n\s*\n/)) {
        const text = turn.trim().replace(/^\d+\.\s*/, "");
        if (!text) continue;
        const item = document.createElement("li");
        if (/^\[.*\]$/s.test(text)) {
          item.className = "direction";
          item.textContent = text.slice(1, -1); // the agent's direction: a pause, a paraphrase
        } else {
          item.textContent = text;
        }
        script.appendChild(item);
      }
    }
    $("sms-count").hidden = !(reply && reply.channel === "sms");
    updateSms();
  }

  function show(suggestion, data, ticket, recent, match) {
    current = suggestion;
    currentIncident = data;
    const result = $("result");
    result.dataset.decision = suggestion.decision_id || "";
    $("answers").textContent = heading(suggestion, data, ticket);
    for (const button of result.querySelectorAll("button")) {
      button.disabled = false;
      button.dataset.decision = suggestion.decision_id || "";
    }
    result.hidden = false;
    const severity = $("severity");
    severity.textContent = T.severity + ": " + (T[suggestion.severity] || suggestion.severity);
    severity.className = "badge sev-" + suggestion.severity;
    $("approval-badge").hidden = !suggestion.actions.some((a) => a.requires_approval);
    if (suggestion.respond_by) showCountdown(suggestion.respond_by);
    showHistory(suggestion.history);
    showDisruption(match);
    showRecent(recent, suggestion.decision_id);
    showActions(suggestion.actions);
    showFollowUps(suggestion.follow_ups || []);
    showReply(suggestion.reply);
    fitReply();
    for (const button of document.querySelectorAll("#outcomes button")) {
      button.disabled = !suggestion.decision_id;
    }
    const notes = [];
    if (!suggestion.matched) notes.push(T.no_match);
    if (!suggestion.decision_id) notes.push(T.no_log);
    status(notes.join(" "), false);
    const box = $("reply-box");
    box.scrollIntoView({ block: "start" });
    box.focus({ preventScroll: true });
    $("announce").textContent = T.reply_ready + " " + $("answers").textContent;
  }

  $("incident").addEventListener("submit", async (event) => {
    event.preventDefault();
    const mine = ++generation;
    clearResult();
    clearErrors();
    const wrong = checkForm();
    if (wrong.length) {
      status("", false);
      wrong[0].focus();
      return;
    }
    status(T.working, false);
    const data = incident();
    const ticket = data.id || "";
    // Without a ticket number the incident still gets an id of its own, so that Explain
    // (a second request about the same incident) is the same decision in the log, not two.
    if (!data.id) data.id = "console-" + Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
    try {
      const [suggestion, [recent, match]] = await Promise.all([call("POST", "/v1/suggest", data), context(data)]);
      if (mine === generation) show(suggestion, data, ticket, recent, match);
    } catch (error) {
      if (mine !== generation) return;
      clearResult();
      refused(error, data);
    }
  });

  // An error in agent words, next to the field when one is at fault; the technical line folded.
  function refused(error, data) {
    const lines = error.lines || [error.message];
    if (error.status === 401 || error.status === 403) {
      const words = error.status === 401 ? T.token_refused : T.token_role;
      status(words, true, lines);
      if (tokenField) {
        setFieldError(tokenField, words);
        tokenField.focus();
      }
      return;
    }
    const placed = data ? placeServerErrors(lines, data.type) : [];
    if (placed.length) {
      status("", true, lines);
      placed[0].focus();
    } else {
      status(lines.join(" "), true);
    }
  }

  // A button of the result acts only on the result it was enabled for.
  function fresh(button) {
    return current !== null && !$("result").hidden && !button.disabled && button.dataset.decision === (current.decision_id || "");
  }

  async function copy(text, done) {
    try {
      await navigator.clipboard.writeText(text);
    } catch (error) { // no clipboard permission (plain http on another host): select and copy
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    $("outcome-status").textContent = done;
  }

  $("copy").addEventListener("click", () => {
    if (fresh($("copy"))) copy($("reply").value, T.copied);
  });
  $("copy-subject").addEventListener("click", () => {
    if (fresh($("copy-subject"))) copy($("subject").textContent, T.copied_subject);
  });

  // -- Explain: matched rules with their conditions, near misses, the rest folded -----------
  function ruleItem(list, trace, text) {
    const item = document.createElement("li");
    const name = document.createElement("code");
    name.textContent = trace.rule;
    item.appendChild(name);
    const detail = document.createElement("span");
    detail.textContent = " " + text;
    item.appendChild(detail);
    list.appendChild(item);
  }

  // The incident's values of the fields a condition reads (derived ones, such as
  // order.policy_value, are the service's and are left out).
  function fieldsOf(when) {
    const found = when.match(/\b(?:type|channel|stage|severity|(?:facts|order|customer|event)\.\w+)\b/g) || [];
    return [...new Set(found)];
  }

  function lookup(data, path) {
    return path.split(".").reduce((value, key) => (value == null ? undefined : value[key]), data);
  }

  $("explain").addEventListener("click", async () => {
    const section = $("trace");
    if (!section.hidden) {
      section.hidden = true;
      $("explain").setAttribute("aria-expanded", "false");
      return;
    }
    if (!fresh($("explain"))) return;
    const mine = generation;
    try {
      if (rules === null) rules = await call("GET", "/console/rules");
      const explained = await call("POST", "/v1/explain", currentIncident);
      if (mine !== generation) return;
      for (const id of ["trace-matched", "trace-near", "trace-other"]) $(id).replaceChildren();
      let others = 0;
      const type = currentIncident.type;
      for (const trace of explained.trace || []) {
        const rule = rules[trace.rule] || {};
        const value = " (" + fill(T.value_was, { v: JSON.stringify(trace.value) }) + ")";
        if (trace.matched) {
          const values = fieldsOf(rule.when || "").map((path) => path + " = " + JSON.stringify(lookup(currentIncident, path))).filter((text) => !text.endsWith("= undefined"));
          ruleItem($("trace-matched"), trace, "✓ " + (trace.outcome || "") + " — " + T.condition + ": " + (rule.when || "") + (values.length ? " (" + values.join(", ") + ")" : ""));
        } else if (rule.types && rule.types.includes(type)) {
          ruleItem($("trace-near"), trace, "✗ " + (trace.failed || "") + value);
        } else {
          others += 1;
          ruleItem($("trace-other"), trace, "✗ " + (trace.failed || "") + (trace.failed ? value : ""));
        }
      }
      $("trace-other-count").textContent = String(others);
      section.hidden = false;
      $("explain").setAttribute("aria-expanded", "true");
    } catch (error) {
      refused(error, null);
    }
  });

  // -- outcome and feedback --------------------------------------------------------------
  async function record(button) {
    if (!fresh(button) || !current.decision_id) return;
    let outcome = button.dataset.outcome;
    const text = $("reply").value;
    if (outcome === "accepted" && text !== suggestedText) outcome = "edited";
    clearFieldError($("reject-reason"));
    const reason = value("reject-reason");
    if (outcome === "rejected" && !reason) {
      setFieldError($("reject-reason"), T.reject_reason);
      $("reject-reason").focus();
      return;
    }
    const notes = [];
    if (value("note")) notes.push(value("note"));
    if (outcome === "rejected") notes.push(T.reject_reason + ": " + reason);
    if (outcome === "edited") notes.push(text); // the text that went out
    const body = { decision_id: current.decision_id, status: outcome };
    if (notes.length) body.note = notes.join("\n\n");
    const compensation = current.actions.find((a) => a.cost);
    if (value("given") !== "" && compensation) body.given = { [compensation.kind]: Number(value("given")) };
    const decision = current.decision_id;
    try {
      await call("POST", "/v1/outcomes", body);
      if (current && current.decision_id === decision) {
        $("outcome-status").textContent = T.recorded + " " + T[outcome];
        $("feedback-decision").value = decision;
      }
    } catch (error) {
      $("outcome-status").textContent = error.status === 401 ? T.token_refused : error.message;
    }
  }

  for (const button of document.querySelectorAll("#outcomes button")) {
    button.addEventListener("click", () => record(button));
  }

  $("feedback").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { decision_id: value("feedback-decision") };
    for (const name of ["csat", "nps", "ces"]) if (value(name) !== "") body[name] = Number(value(name));
    try {
      await call("POST", "/v1/feedback", body);
      $("feedback-status").textContent = T.feedback_saved;
    } catch (error) {
      $("feedback-status").textContent = error.status === 401 ? T.token_refused : error.message;
    }
  });

  // -- keyboard: everything without a mouse ----------------------------------------------
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      event.preventDefault();
      $("incident").requestSubmit();
      return;
    }
    if (!(event.altKey && event.shiftKey) || event.ctrlKey || event.metaKey) return;
    const target = { KeyC: "copy", KeyJ: "copy-subject" }[event.code];
    const outcome = { KeyA: "accepted", KeyE: "edited", KeyR: "rejected" }[event.code];
    const button = target ? $(target) : outcome ? document.querySelector('#outcomes [data-outcome="' + outcome + '"]') : null;
    if (button) {
      event.preventDefault();
      button.click();
    }
  });

  clearResult();
  showFacts();
})();
