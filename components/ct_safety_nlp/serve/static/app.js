/* Safety review page: calls this server's /v1 API, draws the results.
 * Plain browser JavaScript, no build step, no external assets. Document text
 * is only ever put into the page as text nodes (never as HTML).
 * document.body.dataset.state: "starting" | "idle" | "busy" | "done" | "error"
 * (the browser test waits on it). */
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const state = { info: null, keyRequired: false, docs: [], errors: [], current: 0, selected: null, source: null };

  function setState(name) { document.body.dataset.state = name; }
  setState("starting");

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function status(message, isError) {
    const node = $("status");
    node.textContent = message || "";
    node.classList.toggle("error", !!isError);
  }

  // ---- API ---------------------------------------------------------------
  async function api(path, options) {
    const opts = Object.assign({ method: "GET", headers: {} }, options || {});
    const key = $("api-key").value;
    if (key) opts.headers["X-API-Key"] = key;
    let response;
    try {
      response = await fetch(path, opts);
    } catch (err) {
      throw new Error("the server cannot be reached (" + err.message + ")");
    }
    const type = response.headers.get("content-type") || "";
    if (!response.ok) {
      let message = response.status + " " + response.statusText;
      if (type.includes("application/json")) {
        const body = await response.json();
        if (body && body.error && body.error.message) message = body.error.message;
      }
      const error = new Error(message);
      error.status = response.status;
      throw error;
    }
    return type.includes("application/json") ? response.json() : response.blob();
  }

  async function loadInfo() {
    try {
      const info = await api("/v1/info");
      state.info = info;
      const p = info.pipeline || {};
      $("info-pipeline").textContent = (p.name || "?") + " " + (p.version || "");
      $("info-ctcae").textContent = info.ctcae ? "v" + info.ctcae.version + " · " + info.ctcae.terms + " terms" : "none";
      $("info-components").textContent = (p.components || []).join(", ") || "–";
      return true;
    } catch (err) {
      $("info-pipeline").textContent = err.status === 401 ? "API key needed" : "unavailable";
      if (err.status === 401) status("This server asks for an API key: enter it below.", true);
      else status("Could not read the pipeline's description: " + err.message, true);
      return false;
    }
  }

  async function start() {
    try {
      const health = await api("/v1/health");
      state.keyRequired = !!health.api_key_required;
      $("key-row").hidden = !state.keyRequired;
    } catch (err) {
      status("The service does not answer: " + err.message, true);
      setState("error");
      return;
    }
    if (!state.keyRequired) await loadInfo();
    setState("idle");
  }

  function followupWanted() {
    return !state.info || !!(state.info.features && state.info.features.generate);
  }

  function contextFromForm() {
    const context = {};
    for (const input of document.querySelectorAll("#context-box input, #context-box select")) {
      const value = input.value.trim();
      if (!value) continue;
      if (input.name === "age" && /^\d+(\.\d+)?$/.test(value)) context.age = Number(value);
      else context[input.name] = value;
    }
    return Object.keys(context).length ? context : null;
  }

  async function ensureInfo() {
    if (!state.info && state.keyRequired) await loadInfo();
  }

  async function run(label, work) {
    const buttons = [$("analyse"), $("clear")];
    buttons.forEach((b) => (b.disabled = true));
    setState("busy");
    status(label);
    const started = performance.now();
    try {
      await ensureInfo();
      const result = await work();
      state.docs = result.documents || [];
      state.errors = result.errors || [];
      state.current = 0;
      state.selected = null;
      render();
      const ms = Math.round(performance.now() - started);
      const n = state.docs.length;
      const aes = state.docs.reduce((sum, d) => sum + (d.adverse_events || []).length, 0);
      status(`${n} document${n === 1 ? "" : "s"} annotated, ${aes} adverse event${aes === 1 ? "" : "s"}` +
        (state.errors.length ? `, ${state.errors.length} not annotated` : "") + ` (${ms} ms).`);
      setState("done");
    } catch (err) {
      status(err.message, true);
      setState("error");
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  }

  function analyseText() {
    const text = $("text").value;
    if (!text.trim()) {
      status("Paste some text first.", true);
      $("text").focus();
      return;
    }
    state.source = "text";
    const body = { text: text, followup: followupWanted() };
    const context = contextFromForm();
    if (context) body.context = context;
    run("Analysing…", () => api("/v1/annotate", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    }));
  }

  function analyseFile(file) {
    if (!file) return;
    state.source = "file";
    const params = new URLSearchParams({ filename: file.name, followup: String(followupWanted()) });
    run(`Reading ${file.name}…`, async () => {
      const data = await file.arrayBuffer();
      const result = await api("/v1/annotate/file?" + params.toString(), {
        method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: data,
      });
      const docs = result.documents || [];
      if (docs.length === 1 && /\.(txt|text|md|markdown)$/i.test(file.name) && docs[0].text) $("text").value = docs[0].text;
      return result;
    });
  }

  // ---- rendering -----------------------------------------------------------
  function aeStatus(ae) {
    if (ae.negated) return "neg";
    if (ae.historical) return "hist";
    if (ae.speculated) return "spec";
    return "current";
  }

  function nearest(text, needle, anchor, maxDistance) {
    const hay = text.toLowerCase();
    const n = needle.toLowerCase();
    let best = null;
    for (let at = hay.indexOf(n); at !== -1; at = hay.indexOf(n, at + 1)) {
      const distance = Math.abs(at - anchor);
      if (best === null || distance < best.distance) best = { start: at, end: at + n.length, distance: distance };
    }
    return best && best.distance <= maxDistance ? best : null;
  }

  /** Text ranges that an AE's evidence quotes ('...') or names (its drugs), nearest to the AE. */
  function evidenceRanges(text, ae) {
    const ranges = [];
    const quoted = [];
    for (const line of ae.evidence || []) {
      for (const m of String(line).matchAll(/'([^']{2,200})'/g)) quoted.push(m[1]);
    }
    for (const drug of ae.drugs || []) quoted.push(String(drug));
    for (const q of quoted) {
      const hit = nearest(text, q, ae.start_char, 400);
      if (hit && !(hit.start === ae.start_char && hit.end === ae.end_char)) ranges.push({ start: hit.start, end: hit.end });
    }
    return ranges;
  }

  function renderText(rec) {
    const box = $("doc-text");
    box.replaceChildren();
    const text = rec.text || "";
    if (!text) {
      box.append(el("p", { class: "muted", text: "The record carries no text (include_text was off)." }));
      return;
    }
    const aes = rec.adverse_events || [];
    const marks = [];
    aes.forEach((ae, i) => marks.push({ start: ae.start_char, end: ae.end_char, kind: "ae", idx: i, st: aeStatus(ae) }));
    for (const ent of rec.ents || []) {
      const dup = ent.label === "ADVERSE_EVENT" && aes.some((a) => a.start_char === ent.start_char && a.end_char === ent.end_char);
      if (!dup) marks.push({ start: ent.start_char, end: ent.end_char, kind: "ent", label: ent.label });
    }
    const selected = state.selected !== null ? aes[state.selected] : null;
    if (selected) for (const r of evidenceRanges(text, selected)) marks.push({ start: r.start, end: r.end, kind: "evid" });
    const cuts = new Set([0, text.length]);
    for (const m of marks) { cuts.add(Math.max(0, Math.min(text.length, m.start))); cuts.add(Math.max(0, Math.min(text.length, m.end))); }
    const points = [...cuts].sort((a, b) => a - b);
    for (let k = 0; k < points.length - 1; k++) {
      const a = points[k], b = points[k + 1];
      const over = marks.filter((m) => m.start <= a && m.end >= b);
      const piece = text.slice(a, b);
      if (!over.length) { box.append(document.createTextNode(piece)); continue; }
      const classes = new Set();
      let aeIdx = null;
      for (const m of over) {
        if (m.kind === "ent") classes.add("e-" + (["DRUG", "DOSE", "ROUTE", "FREQUENCY", "DURATION", "ADVERSE_EVENT"].includes(m.label) ? m.label : "OTHER"));
        if (m.kind === "ae") { classes.add("ae"); if (m.st !== "current") classes.add(m.st); aeIdx = aeIdx === null ? m.idx : aeIdx; if (m.idx === state.selected) classes.add("sel"); }
        if (m.kind === "evid") classes.add("evid");
      }
      const mark = el("mark", { class: [...classes].join(" ") }, piece);
      if (aeIdx !== null) {
        mark.dataset.ae = String(aeIdx);
        mark.title = describeAe(aes[aeIdx]);
        mark.addEventListener("click", () => selectAe(aeIdx, true));
      }
      box.append(mark);
      // labels after the spans that end here (displaCy style)
      for (const m of over.filter((x) => x.end === b)) {
        if (m.kind === "ent") box.append(el("span", { class: "tag e-" + m.label, "aria-label": "entity " + m.label }, m.label));
        if (m.kind === "ae") {
          const ae = aes[m.idx];
          const label = "AE" + (ae.grade ? " G" + ae.grade : "") + (m.st === "neg" ? " · neg" : m.st === "spec" ? " · ?" : m.st === "hist" ? " · hx" : "");
          box.append(el("span", { class: "tag ae" + (m.st !== "current" ? " " + m.st : ""), "aria-label": describeAe(ae) }, label));
        }
      }
    }
  }

  function describeAe(ae) {
    const bits = [ae.ctcae_term || "no CTCAE term"];
    if (ae.grade) bits.push("grade " + ae.grade);
    if (ae.negated) bits.push("negated");
    if (ae.speculated) bits.push("speculated");
    if (ae.historical) bits.push("historical");
    if (ae.serious) bits.push("serious");
    return "adverse event: " + bits.join(", ");
  }

  function renderLegend(rec) {
    const legend = $("legend");
    legend.replaceChildren();
    const labels = new Set((rec.ents || []).map((e) => e.label));
    const items = [];
    if (labels.has("DRUG")) items.push(["e-DRUG", "Drug"]);
    if (labels.has("DOSE")) items.push(["e-DOSE", "Dose"]);
    if (["ROUTE", "FREQUENCY", "DURATION"].some((l) => labels.has(l))) items.push(["e-REG", "Route / frequency / duration"]);
    items.push(["ae", "Adverse event"], ["neg", "Negated"], ["spec", "Speculated"], ["hist", "Historical"], ["evid", "Evidence of the selected row"]);
    for (const [cls, name] of items) legend.append(el("li", {}, el("span", { class: "swatch " + cls, "aria-hidden": "true" }), name));
  }

  const dash = () => el("span", { class: "grade-none", "aria-label": "not stated" }, "–");
  const words = (s) => String(s).replace(/_/g, " ");

  function renderAeTable(rec) {
    const body = $("ae-body");
    body.replaceChildren();
    const aes = rec.adverse_events || [];
    $("ae-count").textContent = String(aes.length);
    if (!aes.length) {
      body.append(el("tr", { class: "none-row" }, el("td", { colspan: 10, text: "No adverse event found in this document." })));
      return;
    }
    aes.forEach((ae, i) => {
      const st = aeStatus(ae);
      const statusBadges = [];
      if (ae.negated) statusBadges.push(el("span", { class: "badge b-neg" }, "Negated"));
      if (ae.speculated) statusBadges.push(el("span", { class: "badge b-spec" }, "Speculated"));
      if (ae.historical) statusBadges.push(el("span", { class: "badge b-hist" }, "Historical"));
      if (!statusBadges.length) statusBadges.push(el("span", { class: "badge b-current" }, "Current"));
      const serious = ae.serious === true
        ? [el("span", { class: "badge b-serious" }, "Serious"), el("span", { class: "sub" }, (ae.seriousness_criteria || []).map(words).join(", "))]
        : ae.serious === false ? el("span", { class: "badge b-no" }, "No") : dash();
      const dlt = ae.dlt === true ? el("span", { class: "badge b-yes" }, "DLT") : ae.dlt === false ? el("span", { class: "badge b-no" }, "No") : dash();
      const grade = ae.grade ? el("span", { class: "grade grade-" + ae.grade, "aria-label": "grade " + ae.grade }, String(ae.grade)) : dash();
      const button = el("button", { type: "button", class: "mention-btn", "aria-pressed": "false", "data-ae": i,
        onclick: (ev) => { ev.stopPropagation(); selectAe(i, false); } }, ae.text);
      const row = el("tr", { "aria-selected": "false", "data-ae": i, class: st === "neg" ? "row-neg" : null, onclick: () => selectAe(i, false) },
        el("td", { class: "num" }, String(i + 1)),
        el("td", {}, button),
        el("td", { title: ae.soc || null }, ae.ctcae_term ? [el("span", { class: "term" }, ae.ctcae_term), el("span", { class: "sub" }, ae.meddra_code ? "MedDRA " + ae.meddra_code : "")] : dash()),
        el("td", {}, grade),
        el("td", {}, ae.grade_basis ? words(ae.grade_basis) : dash()),
        el("td", {}, statusBadges),
        el("td", {}, serious),
        el("td", {}, (ae.drugs || []).length ? ae.drugs.join(", ") : dash()),
        el("td", {}, dlt),
        el("td", {}, ae.action ? words(ae.action) : dash()),
      );
      body.append(row);
    });
  }

  function selectAe(i, fromText) {
    const rec = state.docs[state.current];
    if (!rec) return;
    state.selected = i;
    renderText(rec);
    for (const row of $("ae-body").querySelectorAll("tr[data-ae]")) {
      const on = Number(row.dataset.ae) === i;
      row.setAttribute("aria-selected", on ? "true" : "false");
      const btn = row.querySelector(".mention-btn");
      if (btn) btn.setAttribute("aria-pressed", on ? "true" : "false");
      if (on && fromText) { row.scrollIntoView({ block: "nearest" }); if (btn) btn.focus({ preventScroll: true }); }
    }
    const mark = $("doc-text").querySelector('mark.sel');
    if (mark && !fromText) mark.scrollIntoView({ block: "nearest" });
    const ae = rec.adverse_events[i];
    const box = $("evidence");
    box.replaceChildren(
      el("h3", {}, `Evidence for #${i + 1} “${ae.text}”` + (ae.ctcae_term ? ` → ${ae.ctcae_term}` : "")),
      el("ul", {}, (ae.evidence || []).map((line) => el("li", {}, line))),
    );
  }

  function renderRegimens(rec) {
    const body = $("reg-body");
    body.replaceChildren();
    const regs = rec.regimens || [];
    $("reg-count").textContent = String(regs.length);
    if (!regs.length) {
      body.append(el("tr", { class: "none-row" }, el("td", { colspan: 5, text: "No regimen found in this document." })));
      return;
    }
    for (const r of regs) {
      let dose = r.dose_text;
      if (!dose && r.value !== null && r.value !== undefined) dose = r.value + " " + (r.unit || "") + (r.per ? "/" + r.per : "");
      body.append(el("tr", {},
        el("td", {}, r.drug ? el("span", { class: "term" }, r.drug) : dash()),
        el("td", {}, dose || dash()), el("td", {}, r.route || dash()),
        el("td", {}, r.frequency || dash()), el("td", {}, r.duration || dash())));
    }
  }

  /** The follow-up record's small Markdown (headings, bullets, paragraphs) as DOM nodes. */
  function markdown(text) {
    const out = document.createDocumentFragment();
    let list = null;
    for (const raw of String(text || "").split("\n")) {
      const line = raw.trimEnd();
      const bullet = /^\s*[-*] (.*)$/.exec(line);
      if (bullet) {
        if (!list) { list = el("ul"); out.append(list); }
        list.append(el("li", {}, bullet[1]));
        continue;
      }
      list = null;
      if (!line.trim()) continue;
      const heading = /^(#{1,6}) (.*)$/.exec(line);
      if (heading && heading[1].length === 1 && heading[2].trim().toLowerCase() === "follow-up record") continue; // the panel says so
      if (heading) out.append(el(heading[1].length === 1 ? "h3" : "h4", { class: heading[1].length === 1 ? "md-h1" : "md-h2" }, heading[2]));
      else out.append(el("p", {}, line));
    }
    return out;
  }

  function renderFollowup(rec) {
    const panel = $("followup-panel");
    const fu = rec.followup;
    panel.hidden = !fu;
    if (!fu) return;
    const issues = fu.issues || [];
    $("issues").replaceChildren(issues.length
      ? el("div", { class: "issue-box bad", role: "alert" }, el("strong", {}, `Faithfulness check: ${issues.length} issue${issues.length === 1 ? "" : "s"}`),
          el("ul", {}, issues.map((s) => el("li", {}, s))))
      : el("div", { class: "issue-box ok" }, el("strong", {}, "Faithfulness check passed: "), "every fact in the record is in the text or the visit context."));
    $("record").replaceChildren(markdown(fu.record));
    $("narrative-box").hidden = !fu.narrative;
    $("narrative").textContent = fu.narrative || "";
  }

  function renderBatch() {
    const nav = $("batch-nav");
    const many = state.docs.length > 1 || state.errors.length > 0 || state.source === "file";
    nav.hidden = !many;
    if (!many) return;
    const select = $("doc-select");
    select.replaceChildren(...state.docs.map((d, i) => el("option", { value: i },
      `${d.id} — ${(d.adverse_events || []).length} AE${(d.adverse_events || []).length === 1 ? "" : "s"}`)));
    select.value = String(state.current);
    select.disabled = state.docs.length < 2;
    $("doc-prev").disabled = state.current <= 0;
    $("doc-next").disabled = state.current >= state.docs.length - 1;
    $("batch-summary").textContent = `${state.docs.length} annotated` + (state.errors.length ? `, ${state.errors.length} not annotated` : "");
    const errBox = $("batch-errors");
    errBox.hidden = !state.errors.length;
    $("batch-errors-list").replaceChildren(...state.errors.map((e) => el("li", {}, el("code", {}, e.id), ": " + e.error)));
  }

  function render() {
    renderBatch();
    const rec = state.docs[state.current];
    $("empty").hidden = !!rec;
    for (const id of ["text-panel", "ae-panel", "reg-panel"]) $(id).hidden = !rec;
    if (!rec) { $("followup-panel").hidden = true; return; }
    $("doc-id").textContent = state.docs.length > 1 || state.source === "file" ? "· " + rec.id : "";
    state.selected = null;
    $("evidence").replaceChildren();
    renderLegend(rec);
    renderText(rec);
    renderAeTable(rec);
    renderRegimens(rec);
    renderFollowup(rec);
  }

  function show(i) {
    if (i < 0 || i >= state.docs.length) return;
    state.current = i;
    render();
  }

  // ---- export ------------------------------------------------------------
  function download(name, blob) {
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  async function exportCsv() {
    if (!state.docs.length) return;
    try {
      const docs = state.docs.map((d) => ({ id: d.id, adverse_events: d.adverse_events || [] }));
      const blob = await api("/v1/export/adverse-events.csv", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ documents: docs }),
      });
      download("adverse_events.csv", blob);
      status(`Exported the AE table of ${docs.length} document${docs.length === 1 ? "" : "s"} as CSV.`);
    } catch (err) {
      status("Export failed: " + err.message, true);
    }
  }

  function exportMarkdown() {
    const rec = state.docs[state.current];
    if (!rec || !rec.followup) return;
    const fu = rec.followup;
    let text = fu.record.endsWith("\n") ? fu.record : fu.record + "\n";
    if (fu.narrative) text += "\n## AE narrative\n\n" + fu.narrative + "\n";
    text += "\n## Faithfulness check\n\n" + ((fu.issues || []).length ? fu.issues.map((s) => "- " + s).join("\n") : "- No issues found") + "\n";
    const safe = String(rec.id).replace(/[^A-Za-z0-9._-]+/g, "_");
    download(`followup_${safe}.md`, new Blob([text], { type: "text/markdown;charset=utf-8" }));
    status("Downloaded the follow-up record as Markdown.");
  }

  // ---- wiring --------------------------------------------------------------
  function wire() {
    $("input-form").addEventListener("submit", (ev) => { ev.preventDefault(); analyseText(); });
    $("text").addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); analyseText(); }
    });
    $("clear").addEventListener("click", () => {
      $("text").value = "";
      state.docs = []; state.errors = []; state.current = 0; state.selected = null; state.source = null;
      render();
      status("");
      $("text").focus();
      setState("idle");
    });
    $("file").addEventListener("change", (ev) => { analyseFile(ev.target.files[0]); ev.target.value = ""; });
    const zone = $("dropzone");
    zone.addEventListener("dragover", (ev) => { ev.preventDefault(); zone.classList.add("dragover"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("dragover"));
    zone.addEventListener("drop", (ev) => {
      ev.preventDefault();
      zone.classList.remove("dragover");
      if (ev.dataTransfer && ev.dataTransfer.files.length) analyseFile(ev.dataTransfer.files[0]);
    });
    // a file dropped anywhere else must not navigate away from the page
    window.addEventListener("dragover", (ev) => ev.preventDefault());
    window.addEventListener("drop", (ev) => ev.preventDefault());
    $("api-key").addEventListener("change", () => { state.info = null; loadInfo(); });
    $("doc-select").addEventListener("change", (ev) => show(Number(ev.target.value)));
    $("doc-prev").addEventListener("click", () => show(state.current - 1));
    $("doc-next").addEventListener("click", () => show(state.current + 1));
    $("export-csv").addEventListener("click", exportCsv);
    $("export-md").addEventListener("click", exportMarkdown);
    $("ae-body").addEventListener("keydown", (ev) => {
      if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
      const rows = [...$("ae-body").querySelectorAll("tr[data-ae]")];
      if (!rows.length) return;
      ev.preventDefault();
      const at = state.selected === null ? -1 : state.selected;
      const next = Math.max(0, Math.min(rows.length - 1, at + (ev.key === "ArrowDown" ? 1 : -1)));
      selectAe(next, false);
      const btn = rows[next].querySelector(".mention-btn");
      if (btn) btn.focus();
    });
  }

  wire();
  start();
})();
