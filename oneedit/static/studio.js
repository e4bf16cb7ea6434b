// OneEdit Studio: plain JavaScript over the JSON API of oneedit/studio/ (routes/). No build step.
// Server text is only ever shown with textContent (never innerHTML).
"use strict";
const $ = id => document.getElementById(id);
const state = { page: 0, pages: 1, example: null, tab: "brush", draft: null, strokes: [], drawing: null,
                strength: 1, busy: false, again: false, sliderTimer: null, strengthTimer: null, edits: [],
                previewJob: null, run: null, review: null, reviewPage: 0, reviewShow: "all", selected: new Set(),
                zoom: 0 };

// The session token: in the page (a studio on this machine), else from the address the studio printed
// (#token=..., --token), kept for this tab only. Every API call sends it; images carry it in their URL.
const TOKEN = (() => {
  const inPage = document.querySelector("meta[name=oneedit-token]").content;
  if (inPage) return inPage;
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) { sessionStorage.setItem("oneedit-token", fromHash); history.replaceState(null, "", location.pathname); }
  return sessionStorage.getItem("oneedit-token") || prompt("OneEdit Studio token (printed by `oneedit studio`):") || "";
})();

function authed(url) {
  // An API address with the token, for <img> tags (which cannot send a header).
  return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN);
}

function showError(message) {
  const box = $("error");
  box.textContent = message ? "error: " + message : "";
  box.hidden = !message;
}

function el(tag, props = {}, ...children) {
  // A DOM element with properties and children (text or elements): never HTML from a string.
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter(c => c != null && c !== false));
  return node;
}

function post(path, body) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...(options.headers || {}), "X-OneEdit-Token": TOKEN } });
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

async function poll(job, onUpdate) {
  // Follow a job until it ends; a job runs on the server, so leaving the page does not stop it.
  for (;;) {
    onUpdate(job);
    if (job.state === "done") return job;
    if (job.state === "failed" || job.state === "cancelled") throw Object.assign(new Error(job.error), { job });
    await new Promise(r => setTimeout(r, 400));
    job = await api("/api/jobs/" + job.id);
  }
}

// 1. the catalog ---------------------------------------------------------------------------

async function loadPage(page) {
  const data = await api(`/api/photos?page=${page}&size=24`);
  state.page = data.page; state.pages = Math.max(1, data.pages);
  $("page").textContent = `page ${data.page + 1} of ${state.pages} (${data.total} photos)`;
  const grid = $("grid");
  grid.replaceChildren();
  for (const p of data.photos) {
    p.base = `/api/photos/${encodeURIComponent(p.id)}`;
    const img = document.createElement("img");
    img.src = authed(`${p.base}/thumb.png`);
    img.title = p.file;
    img.dataset.id = p.id;
    if (state.example && state.example.id === p.id) img.classList.add("on");
    img.addEventListener("click", () => choose(p, img));
    grid.appendChild(img);
  }
}

function choose(p, img) {
  state.example = p;
  document.querySelectorAll("#grid img").forEach(i => i.classList.toggle("on", i === img));
  $("chosen").hidden = false;
  $("chosen-thumb").src = authed(`${p.base}/thumb.png`);
  $("chosen-projection").src = authed(`${p.base}/projection.png`);
  $("chosen-file").textContent = `${p.file} (${p.width}×${p.height})`;
  $("chosen-err").textContent = p.err_pixel == null ? "" : `reconstruction error ${p.err_pixel.toFixed(4)}`;
  $("make").hidden = false;
  state.strokes = []; state.draft = null;
  const photo = $("photo");
  photo.onload = () => {  // shown at a working size whatever the photo's; the server brings masks back to its size
    const scale = 448 / Math.max(photo.naturalWidth, photo.naturalHeight), c = $("paint");
    c.width = Math.round(photo.naturalWidth * scale); c.height = Math.round(photo.naturalHeight * scale);
    photo.style.width = c.width + "px"; photo.style.height = c.height + "px";
    redraw();
  };
  photo.src = authed(`${p.base}/photo.png?size=512`);
  renderSliders();
}

async function uploadExample() {
  // A photo from outside the catalog as the example: stored and projected by the server like a catalog photo.
  const file = $("example-file").files[0];
  if (!file) return;
  showError("");
  try {
    const job = await api(`/api/uploads?name=${encodeURIComponent(file.name)}`,
                          { method: "POST", headers: { "Content-Type": file.type || "application/octet-stream" }, body: file });
    const done = await poll(job, j => { $("upload-status").textContent = j.state === "done" ? "" : `projecting ${file.name}…`; });
    choose(done.result, null);
  } catch (e) { showError(e.message); }
  finally { $("upload-status").textContent = ""; }
}

// 2. the edit ------------------------------------------------------------------------------

function redraw() {
  const c = $("paint"), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  for (const s of state.strokes) drawStroke(g, s, s.tool === "color" ? $("color").value : "#000000");
}

function drawStroke(g, s, colour) {
  g.strokeStyle = colour; g.lineWidth = s.size; g.lineCap = "round"; g.lineJoin = "round";
  g.beginPath();
  s.points.forEach(([x, y], i) => (i ? g.lineTo(x, y) : g.moveTo(x, y)));
  if (s.points.length === 1) g.lineTo(s.points[0][0] + 0.1, s.points[0][1]);
  g.stroke();
}

function strokeMask(tool) {
  // The strokes of one tool as a PNG data URL (painted pixels opaque), at the displayed size.
  const c = document.createElement("canvas");
  c.width = $("paint").width; c.height = $("paint").height;
  const g = c.getContext("2d");
  const mine = state.strokes.filter(s => s.tool === tool);
  mine.forEach(s => drawStroke(g, s, "#ffffff"));
  return mine.length ? c.toDataURL("image/png") : null;
}

function setupCanvas() {
  const c = $("paint");
  const at = e => { const r = c.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
  c.addEventListener("pointerdown", e => {
    const tool = document.querySelector("input[name=tool]:checked").value;
    state.drawing = { tool, size: +$("size").value, points: [at(e)] };
    state.strokes.push(state.drawing); state.draft = null;
    c.setPointerCapture(e.pointerId); redraw();
  });
  c.addEventListener("pointermove", e => { if (state.drawing) { state.drawing.points.push(at(e)); redraw(); } });
  c.addEventListener("pointerup", () => { state.drawing = null; });
  $("undo").addEventListener("click", () => { state.strokes.pop(); state.draft = null; redraw(); });
  $("clear").addEventListener("click", () => { state.strokes = []; state.draft = null; redraw(); });
  $("color").addEventListener("input", () => { state.draft = null; redraw(); });
}

function hexToRgb(hex) { return [1, 3, 5].map(i => parseInt(hex.slice(i, i + 2), 16)); }

async function renderSliders() {
  // One slider per principal direction, named after what it changes, its two ends shown as tiny renders.
  const box = $("sliders");
  if (box.dataset.ready) { liveRender(); return; }
  const d = await api("/api/directions");
  box.replaceChildren();
  d.labels.forEach((look, k) => {
    const input = el("input", { type: "range", min: -3, max: 3, step: 0.1, value: 0, title: `${look.what} (standard deviations)` });
    const value = el("span", { className: "value", textContent: "0" });
    input.dataset.k = k;
    input.addEventListener("input", () => { value.textContent = input.value; state.draft = null;
                                            clearTimeout(state.sliderTimer); state.sliderTimer = setTimeout(liveRender, 120); });
    const end = (src, word) => el("span", { className: "end" },
      el("img", { src: authed(src), alt: word, title: word, className: "tiny" }), el("span", { textContent: word }));
    box.appendChild(el("div", { className: "slider" }, el("b", { textContent: look.what }),
                       end(look.minus_image, look.minus), input, end(look.plus_image, look.plus), value));
  });
  box.dataset.ready = "1";
  liveRender();
}

function resetSliders() {
  document.querySelectorAll("#sliders input").forEach(i => { i.value = 0; });
  document.querySelectorAll("#sliders .value").forEach(v => { v.textContent = "0"; });
  state.draft = null;
  liveRender();
}

function sliderValues() { return Array.from(document.querySelectorAll("#sliders input")).map(i => +i.value); }

async function liveRender() {
  if (!state.example) return;
  try {
    const r = await fetch("/api/render", { method: "POST", headers: { "Content-Type": "application/json", "X-OneEdit-Token": TOKEN },
      body: JSON.stringify({ example: state.example.id, offsets: sliderValues() }) });
    if (!r.ok) throw new Error((await r.json()).error);
    $("slider-render").src = URL.createObjectURL(await r.blob());
  } catch (e) { showError(e.message); }
}

async function makeDraft() {
  const example = state.example.id;
  if (state.tab === "brush") {
    const color = strokeMask("color"), sketch = strokeMask("sketch");
    const body = { example, color: color && { mask: color, rgb: hexToRgb($("color").value) },
                   sketch: sketch && { mask: sketch } };
    return (await api("/api/drafts/brush", { method: "POST", headers: { "Content-Type": "application/json" },
                                             body: JSON.stringify(body) })).draft;
  }
  if (state.tab === "after") {
    const file = $("after-file").files[0];
    if (!file) throw new Error("choose the edited photo first");
    return (await api(`/api/drafts/after?example=${encodeURIComponent(example)}`,
                      { method: "POST", headers: { "Content-Type": file.type || "application/octet-stream" }, body: file })).draft;
  }
  return (await api("/api/drafts/offset", { method: "POST", headers: { "Content-Type": "application/json" },
                                            body: JSON.stringify({ example, offsets: sliderValues() }) })).draft;
}

// 3. the preview ---------------------------------------------------------------------------

async function preview() {
  if (state.busy) { state.again = true; return; }  // run once more when this one ends (the slider moved)
  state.busy = true; $("preview").disabled = true; $("cancel-preview").hidden = false; showError("");
  try {
    if (!state.draft) state.draft = await makeDraft();
    const job = await post(`/api/drafts/${state.draft}/preview`, { strength: state.strength, sample: 16 });
    state.previewJob = job.id;
    const done = await poll(job, j => { $("preview-status").textContent = j.state === "done" ? "" : `${j.phase} ${j.of ? j.done + "/" + j.of : ""}`; });
    showPreview(done.result);
    $("preview-status").textContent = "";
  } catch (e) {
    if (e.job && e.job.state === "cancelled") { state.again = false; $("preview-status").textContent = "preview cancelled"; }
    else { showError(e.message); $("preview-status").textContent = ""; }
  } finally {
    state.busy = false; state.previewJob = null; $("preview").disabled = false; $("cancel-preview").hidden = true;
    if (state.again) { state.again = false; preview(); }
  }
}

async function cancelJob(id) {
  if (!id) return;
  try { await api(`/api/jobs/${id}/cancel`, { method: "POST" }); } catch (e) { showError(e.message); }
}

function counts(status) {
  // "12 edited, 3 flagged, 1 skipped" in a fixed order.
  return ["edited", "flagged", "clamped", "skipped", "rejected"].filter(k => status[k]).map(k => `${status[k]} ${k}`).join(", ");
}

function showPreview(r) {
  $("look").hidden = false; $("apply-box").hidden = false;
  const captions = { render_before: "G(w0): the example in the generator", render_user_edit: "G(w0'): your edit",
                     render_direction: "G(w0 + Δ*): the catalog direction" };
  const image = (src, alt, cls) => Object.assign(document.createElement("img"), { src: authed(src), alt, className: cls || "" });
  $("renders").replaceChildren(...Object.entries(r.renders).map(([k, src]) => {
    const figure = document.createElement("figure"), caption = document.createElement("figcaption");
    caption.textContent = captions[k] || k;
    figure.append(image(`${src}?v=${Date.now()}`, caption.textContent, "pixel"), caption);
    return figure;
  }));
  const c = r.catalog;
  $("catalog-summary").textContent = `At strength ${r.strength}, applying would leave, of ${c.photos} photos: ` +
    `${counts(c.status)} (α from ${c.alpha_min.toFixed(3)} to ${c.alpha_max.toFixed(3)}).`;
  // Honest runs: Apply is no use when the preview says nothing would be edited.
  const nothing = c.would_edit === 0;
  $("apply").disabled = nothing;
  $("apply-why").textContent = nothing ? `Nothing would be edited at this strength: every photo would be ` +
    `${Object.keys(c.status).join(" or ")} (${c.common_reason || "no reason recorded"}). Change the edit or the strength.` : "";
  $("sample").replaceChildren();
  for (const s of r.sample) {
    const item = el("div", { className: "item" });
    if (s.after) item.append(image(s.before, "before"), " ", image(s.after, "after"));
    else if (s.before) item.append(image(s.before, "before"), el("em", { className: "not-edited", textContent: " not edited" }));
    item.append(el("br"), el("span", { textContent: `${s.file}  α = ${s.alpha.toFixed(3)} ` }),
                el("span", { className: "badge " + s.status, textContent: s.status }));
    if (s.reason) item.append(el("div", { className: "reason", textContent: s.reason }));
    $("sample").appendChild(item);
  }
}

function setStrength(value) {
  state.strength = +value;
  $("strength").value = value;
  $("strength-value").textContent = state.strength;
}

function setupStrength() {
  const changed = () => {
    setStrength($("strength").value);
    clearTimeout(state.strengthTimer);
    state.strengthTimer = setTimeout(() => { if (state.draft) preview(); }, 250);
  };
  $("strength").addEventListener("input", changed);
  $("reset-strength").addEventListener("click", () => { $("strength").value = 1; changed(); });
}

// 4. apply and the run ---------------------------------------------------------------------

async function apply() {
  showError("");
  try {
    const name = $("name").value;
    // As `oneedit edit --replace`: an edit of this name is replaced only when the user says so.
    const replace = state.edits.includes(name);
    if (replace && !confirm(`An edit named "${name}" exists. Replace it? It is kept as a version you can restore.`)) return;
    if (!state.draft) state.draft = await makeDraft();
    const job = await post("/api/apply", { draft: state.draft, name, strength: state.strength, replace });
    followRun(job);
  } catch (e) { showError(e.message); }
}

async function followRun(job) {
  // A catalog run (Apply or a re-run): its bars, Cancel, and an honest end: counts, failure, or cancelled.
  state.run = job.id;
  $("run-box").hidden = false; $("apply").disabled = true; $("rerun").disabled = true;
  $("run-done").hidden = true; $("run-end").hidden = true; $("cancel-run").hidden = false; $("cancel-run").disabled = false;
  let end = null;
  try {
    end = await poll(job, j => {
      const doing = j.cancelling ? "cancelling" : j.state;
      $("run-title").textContent = `${j.title}: ${doing}${j.phase ? " (" + j.phase + ")" : ""}, ${Math.round(j.elapsed)} s`;
      const bars = j.progress.filter(b => b.total);
      const total = bars.reduce((a, b) => a + b.total, 0), completed = bars.reduce((a, b) => a + Math.min(b.completed, b.total), 0);
      $("run-bar").value = total ? completed / total : 0;
      $("run-lines").textContent = j.progress.map(b => b.line).join("\n");
    });
  } catch (e) { end = e.job || { state: "failed", error: e.message, result: {} }; }
  const r = end.result || {};
  $("run-title").textContent = `${end.title || ""}: ${end.state}`;
  const box = $("run-end");
  box.hidden = false;
  box.className = end.state === "done" ? "ok" : "bad";
  const made = r.status ? `${r.edited} of ${r.photos} photos edited: ${counts(r.status)}` : "";
  if (end.state === "done") {
    box.textContent = made + (r.landed === false ? "; the edit did not reach the example's final state (see Review)" : "");
    $("run-bar").value = 1;
  } else if (end.state === "cancelled") {
    box.textContent = end.error;
  } else {
    box.textContent = `failed: ${end.error}` + (made ? ` (${made})` : "");
  }
  for (const w of r.warnings || []) box.append(el("br"), `warning: ${w}`);
  if (r.report) { $("report-link").href = r.report; $("run-done").hidden = false; }  // a report key in the address
  $("cancel-run").hidden = true; $("apply").disabled = false; $("rerun").disabled = false;
  state.run = null;
  await loadEdits().catch(e => showError(e.message));
  if (r.name && r.photos) openReview(r.name, 0, "all");
}

async function loadEdits() {
  const s = await api("/api/state");
  const body = $("edits").querySelector("tbody");
  body.replaceChildren();
  state.edits = s.edits.map(e => e.name);
  const action = (text, fn) => el("button", { textContent: text, onclick: fn });
  for (const e of s.edits) {
    const name = e.report ? el("a", { href: e.report, target: "_blank", textContent: e.name }) : e.name;
    const applied = Object.keys(e.counts).length > 0;
    body.appendChild(el("tr", {}, el("td", {}, name), el("td", { textContent: e.kind }),
      el("td", { textContent: e.strength == null ? "" : e.strength.toFixed(3) }), el("td", { textContent: e.state }),
      el("td", { textContent: counts(e.counts) }), el("td", { textContent: e.versions }),
      el("td", {}, applied && action("Review", () => openReview(e.name, 0, "all")), " ",
         action("Versions", () => openVersions(e.name)), " ", action("Delete", () => deleteEdit(e.name))),
      el("td", { textContent: e.stale.join("; ") })));
  }
  for (const [name, kept] of Object.entries(s.deleted)) {
    body.appendChild(el("tr", { className: "deleted" }, el("td", { textContent: name }), el("td", { textContent: "deleted" }),
      el("td"), el("td"), el("td"), el("td", { textContent: kept }),
      el("td", {}, action("Versions", () => openVersions(name))), el("td")));
  }
  return s;
}

// 5. review ----------------------------------------------------------------------------------

const FILTER_NAMES = { all: "all", edited: "edited", landed: "landed", short: "short", flagged: "flagged",
                       clamped: "clamped", skipped: "skipped", rejected: "rejected (not edited)", accepted: "accepted",
                       "rejected-by-review": "rejected in review", unreviewed: "not reviewed" };

async function openReview(name, page, show) {
  showError("");
  try {
    const r = await api(`/api/edits/${encodeURIComponent(name)}/results?show=${show}&page=${page}&size=48`);
    if (!state.review || state.review.name !== name) state.selected.clear();
    state.review = r; state.reviewPage = r.page; state.reviewShow = r.show;
    $("review-box").hidden = false;
    $("review-name").textContent = `“${name}”`;
    const o = r.outcome, v = r.verdict;
    const verdict = v.landed == null ? "" : v.landed ? `; the edit landed (${v.ratio.toFixed(2)}× as far from the example's final state as the originals)`
      : `; the edit did NOT land (${v.ratio.toFixed(2)}× as far from the final state as the originals)`;
    $("review-summary").textContent = `${o.edited} of ${o.photos} photos edited at strength ${r.strength}: ${counts(o.status)}` +
      `${verdict}. ${r.counts.accepted} accepted, ${r.counts["rejected-by-review"]} rejected in review, ${r.counts.unreviewed} not reviewed.`;
    $("review-warnings").textContent = v.warnings.join(" ");
    $("filters").replaceChildren(...Object.entries(FILTER_NAMES).map(([key, label]) =>
      el("button", { className: key === r.show ? "on" : "", disabled: !r.counts[key] && key !== "all",
                     textContent: `${label} (${r.counts[key]})`, onclick: () => openReview(name, 0, key) })));
    $("review-page").textContent = `page ${r.page + 1} of ${r.pages} (${r.total} shown)`;
    $("select-all").checked = false;
    if ($("rerun-strength").value === "" || $("rerun-strength").dataset.edit !== name) {
      $("rerun-strength").value = r.strength; $("rerun-strength").dataset.edit = name;
    }
    $("export-link").href = exportHref();
    $("review-grid").replaceChildren(...r.photos.map(photoCard));
  } catch (e) { showError(e.message); }
}

function photoCard(p) {
  const name = state.review.name;
  const src = p.image ? `/api/edits/${encodeURIComponent(name)}/output/${p.id}.png?size=200`
                      : `/api/photos/${p.id}/photo.png?size=200`;
  const box = el("input", { type: "checkbox", checked: state.selected.has(p.id), title: "select for a bulk action",
                            onchange: () => box.checked ? state.selected.add(p.id) : state.selected.delete(p.id) });
  const gap = p.final_gap == null ? "" : ` to final state ${p.final_gap.toFixed(3)}` +
    (p.before_gap == null ? "" : ` (was ${p.before_gap.toFixed(3)})`);
  const card = el("div", { className: "card " + (p.decision || "") },
    p.image || p.original ? el("img", { src: authed(src), alt: p.file, title: p.image ? "compare before / after" : "not edited",
                                        onclick: () => p.image && openCompare(p) })
                          : el("div", { className: "missing", textContent: "no photo" }),
    el("div", {}, box, " ", el("span", { className: "file", textContent: p.file })),
    el("div", {}, el("span", { className: "badge " + p.status, textContent: p.status }), " ",
       p.final_state && el("span", { className: "badge " + p.final_state, textContent: p.final_state }),
       el("span", { className: "gap", textContent: gap,
                    title: "measured distance to the example's final state (0: reached); was: the original's" })),
    p.reason && el("div", { className: "reason", textContent: p.reason }));
  if (p.image) {
    card.append(el("div", { className: "decide" },
      el("button", { textContent: "Accept", className: p.decision === "accepted" ? "on" : "", onclick: () => decide({ accept: [p.id] }) }),
      el("button", { textContent: "Reject", className: p.decision === "rejected" ? "on" : "", onclick: () => decide({ reject: [p.id] }) }),
      el("button", { textContent: "Compare", onclick: () => openCompare(p) })));
  }
  return card;
}

async function decide(body) {
  showError("");
  try {
    await post(`/api/edits/${encodeURIComponent(state.review.name)}/review`, body);
    await openReview(state.review.name, state.reviewPage, state.reviewShow);
  } catch (e) { showError(e.message); }
}

function bulk(key) {
  const ids = [...state.selected];
  if (!ids.length) { showError("select photos first (the boxes on the photos, or “all shown”)"); return; }
  decide({ [key]: ids });
}

async function rerun() {
  showError("");
  try {
    const only = $("rerun-only").value, steps = $("rerun-steps").value;
    const body = { only, ids: only === "ids" ? [...state.selected] : [], strength: +$("rerun-strength").value,
                   refine_steps: steps === "" ? null : +steps };
    followRun(await post(`/api/edits/${encodeURIComponent(state.review.name)}/rerun`, body));
  } catch (e) { showError(e.message); }
}

function exportHref() {
  return authed(`/api/edits/${encodeURIComponent(state.review.name)}/export.zip?only=${$("export-only").value}`);
}

// the compare view: before / after of one photo at full resolution, a split slider and zoom

function openCompare(p) {
  const name = state.review.name;
  $("compare-title").textContent = `${p.file}: ${p.status}${p.final_state ? ", " + p.final_state : ""}`;
  $("compare-before").src = authed(`/api/photos/${p.id}/photo.png?size=0`);
  $("compare-after").src = authed(`/api/edits/${encodeURIComponent(name)}/output/${p.id}.png`);
  $("compare").hidden = false;
  $("compare-before").onload = () => setZoom(state.zoom);
}

function setZoom(zoom) {
  state.zoom = zoom;
  const img = $("compare-before"), view = $("compare-view"), inner = $("compare-inner");
  const w = img.naturalWidth || 1, h = img.naturalHeight || 1;
  const scale = zoom || Math.min((view.clientWidth - 4) / w, (window.innerHeight * 0.7) / h, 4);
  inner.style.width = `${Math.round(w * scale)}px`; inner.style.height = `${Math.round(h * scale)}px`;
  inner.classList.toggle("pixels", scale >= 2);
  document.querySelectorAll(".zoom button").forEach(b => b.classList.toggle("on", +b.dataset.zoom === zoom));
  split();
}

function split() {
  const at = +$("compare-split").value;
  $("compare-after").style.clipPath = `inset(0 0 0 ${at}%)`;
  $("compare-line").style.left = `${at}%`;
}

// versions -----------------------------------------------------------------------------------

async function openVersions(name) {
  showError("");
  try {
    const v = await api(`/api/edits/${encodeURIComponent(name)}/versions`);
    $("versions-box").hidden = false;
    $("versions-name").textContent = name;
    const body = $("versions").querySelector("tbody");
    body.replaceChildren(...v.versions.map(x => {
      const current = x.version === "current";
      return el("tr", { className: current ? "current" : "" },
        el("td", { textContent: current ? "current" : x.version }), el("td", { textContent: x.kind }),
        el("td", { textContent: x.strength == null ? "" : x.strength.toFixed(3) }), el("td", { textContent: counts(x.counts) }),
        el("td", { textContent: current ? "" : `${x.saved_utc}: ${x.reason}` }),
        el("td", {}, !current && el("button", { textContent: "Restore", onclick: () => restoreVersion(name, x.version) }), " ",
           !current && el("button", { textContent: "Delete", onclick: () => deleteEdit(name, x.version) })));
    }));
  } catch (e) { $("versions-box").hidden = true; showError(e.message); }
}

async function restoreVersion(name, version) {
  showError("");
  try {
    await post(`/api/edits/${encodeURIComponent(name)}/restore`, { version });
    await loadEdits(); await openVersions(name);
    if (state.review && state.review.name === name) openReview(name, 0, "all");
  } catch (e) { showError(e.message); }
}

async function deleteEdit(name, version = null) {
  const what = version == null ? `the edit “${name}” (it is kept as a version you can restore)` : `version ${version} of “${name}” for good`;
  if (!confirm(`Delete ${what}?`)) return;
  showError("");
  try {
    await post(`/api/edits/${encodeURIComponent(name)}/delete`, { version });
    if (version == null && state.review && state.review.name === name) $("review-box").hidden = true;
    await loadEdits(); await openVersions(name);
  } catch (e) { showError(e.message); }
}

// start ------------------------------------------------------------------------------------

async function start() {
  setupCanvas(); setupStrength();
  document.querySelectorAll(".tabs button").forEach(b => b.addEventListener("click", () => {
    state.tab = b.dataset.tab; state.draft = null;
    document.querySelectorAll(".tabs button").forEach(x => x.classList.toggle("on", x === b));
    document.querySelectorAll(".tab").forEach(t => { t.hidden = t.id !== "tab-" + state.tab; });
  }));
  $("after-file").addEventListener("change", () => { state.draft = null; });
  $("example-file").addEventListener("change", uploadExample);
  $("prev").addEventListener("click", () => state.page > 0 && loadPage(state.page - 1).catch(e => showError(e.message)));
  $("next").addEventListener("click", () => state.page + 1 < state.pages && loadPage(state.page + 1).catch(e => showError(e.message)));
  $("preview").addEventListener("click", preview);
  $("cancel-preview").addEventListener("click", () => cancelJob(state.previewJob));
  $("apply").addEventListener("click", apply);
  $("cancel-run").addEventListener("click", () => { $("cancel-run").disabled = true; cancelJob(state.run); });
  $("reset-sliders").addEventListener("click", resetSliders);
  $("accept-selected").addEventListener("click", () => bulk("accept"));
  $("reject-selected").addEventListener("click", () => bulk("reject"));
  $("clear-selected").addEventListener("click", () => bulk("clear"));
  $("select-all").addEventListener("change", () => {
    for (const p of state.review.photos) { if (p.image) ($("select-all").checked ? state.selected.add(p.id) : state.selected.delete(p.id)); }
    $("review-grid").replaceChildren(...state.review.photos.map(photoCard));
  });
  $("review-prev").addEventListener("click", () => state.reviewPage > 0 && openReview(state.review.name, state.reviewPage - 1, state.reviewShow));
  $("review-next").addEventListener("click", () => state.reviewPage + 1 < state.review.pages && openReview(state.review.name, state.reviewPage + 1, state.reviewShow));
  $("rerun").addEventListener("click", rerun);
  $("export-only").addEventListener("change", () => { $("export-link").href = exportHref(); });
  $("compare-close").addEventListener("click", () => { $("compare").hidden = true; });
  $("compare-split").addEventListener("input", split);
  document.querySelectorAll(".zoom button").forEach(b => b.addEventListener("click", () => setZoom(+b.dataset.zoom)));
  try {
    const s = await loadEdits();
    $("workspace").textContent = `${s.workspace}: ${s.photos} photos`;
    // The strength slider spans what the API accepts (common/params.py's edit.strength), opposite edits included.
    [$("strength").min, $("strength").max] = s.strength_range;
    [$("rerun-strength").min, $("rerun-strength").max] = s.strength_range;
    $("rerun-steps").placeholder = s.refine_steps;
    setStrength(s.strength);
    if (s.run && ["queued", "running"].includes(s.run.state)) followRun(s.run);  // started in another tab, or before
    if (!s.ready) { showError(s.missing); return; }
    await loadPage(0);
  } catch (e) { showError(e.message); }
}

start();
