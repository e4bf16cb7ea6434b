// OneEdit Studio: plain JavaScript over the JSON API of oneedit/studio.py. No build step.
// Server text is only ever shown with textContent (never innerHTML).
"use strict";
const $ = id => document.getElementById(id);
const state = { page: 0, pages: 1, example: null, tab: "brush", draft: null, strokes: [], drawing: null,
                strength: 1, busy: false, again: false, sliderTimer: null, strengthTimer: null, edits: [] };

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
    if (job.state === "failed") throw new Error(job.error);
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
  const box = $("sliders");
  if (box.dataset.ready) { liveRender(); return; }
  const d = await api("/api/directions");
  box.replaceChildren();
  for (let k = 0; k < d.count; k++) {
    const label = document.createElement("label"), input = document.createElement("input"), value = document.createElement("span");
    Object.assign(input, { type: "range", min: -3, max: 3, step: 0.1, value: 0 });
    input.dataset.k = k; value.textContent = "0";
    label.append(`direction ${k + 1} `, input, " ", value, document.createElement("br"));
    input.addEventListener("input", () => { value.textContent = input.value; state.draft = null;
                                            clearTimeout(state.sliderTimer); state.sliderTimer = setTimeout(liveRender, 120); });
    box.appendChild(label);
  }
  box.dataset.ready = "1";
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
    if (!file) throw new Error("--after: choose the edited photo first");
    return (await api(`/api/drafts/after?example=${encodeURIComponent(example)}`,
                      { method: "POST", headers: { "Content-Type": file.type || "application/octet-stream" }, body: file })).draft;
  }
  return (await api("/api/drafts/offset", { method: "POST", headers: { "Content-Type": "application/json" },
                                            body: JSON.stringify({ example, offsets: sliderValues() }) })).draft;
}

// 3. the preview ---------------------------------------------------------------------------

async function preview() {
  if (state.busy) { state.again = true; return; }  // run once more when this one ends (the slider moved)
  state.busy = true; $("preview").disabled = true; showError("");
  try {
    if (!state.draft) state.draft = await makeDraft();
    const job = await api(`/api/drafts/${state.draft}/preview`, { method: "POST", headers: { "Content-Type": "application/json" },
                          body: JSON.stringify({ strength: state.strength, sample: 16 }) });
    const done = await poll(job, j => { $("preview-status").textContent = j.state === "done" ? "" : `${j.phase} ${j.of ? j.done + "/" + j.of : ""}`; });
    showPreview(done.result);
  } catch (e) { showError(e.message); $("preview-status").textContent = ""; }
  finally {
    state.busy = false; $("preview").disabled = false;
    if (state.again) { state.again = false; preview(); }
  }
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
  $("catalog-summary").textContent = `α from ${c.alpha_min.toFixed(3)} to ${c.alpha_max.toFixed(3)} over ${c.photos} photos; ${c.flagged} flagged`;
  $("sample").replaceChildren();
  for (const s of r.sample) {
    const item = document.createElement("div"), caption = document.createElement("span");
    item.className = "item";
    if (s.before) item.append(image(s.before, "before"), " ", image(s.after, "after"));
    else item.append(Object.assign(document.createElement("em"), { textContent: s.reason }));
    caption.textContent = `${s.file}  α = ${s.alpha.toFixed(3)}`;
    item.append(document.createElement("br"), caption);
    if (s.flagged) item.append(" ", Object.assign(document.createElement("span"), { className: "flagged", textContent: "flagged" }));
    $("sample").appendChild(item);
  }
}

function setupStrength() {
  $("strength").addEventListener("input", () => {
    state.strength = +$("strength").value;
    $("strength-value").textContent = state.strength;
    clearTimeout(state.strengthTimer);
    state.strengthTimer = setTimeout(() => { if (state.draft) preview(); }, 250);
  });
}

// 4. apply and the run ---------------------------------------------------------------------

async function apply() {
  showError("");
  try {
    const name = $("name").value;
    // As `oneedit edit --replace`: an edit of this name is replaced only when the user says so.
    const replace = state.edits.includes(name);
    if (replace && !confirm(`An edit named "${name}" exists. Replace it (its results and report are dropped)?`)) return;
    if (!state.draft) state.draft = await makeDraft();
    const job = await api("/api/apply", { method: "POST", headers: { "Content-Type": "application/json" },
                          body: JSON.stringify({ draft: state.draft, name, strength: state.strength, replace }) });
    followRun(job);
  } catch (e) { showError(e.message); }
}

async function followRun(job) {
  $("run-box").hidden = false; $("apply").disabled = true; $("run-done").hidden = true;
  try {
    const done = await poll(job, j => {
      $("run-title").textContent = `${j.title}: ${j.state}${j.phase ? " (" + j.phase + ")" : ""}, ${Math.round(j.elapsed)} s`;
      const bars = j.progress.filter(b => b.total);
      const total = bars.reduce((a, b) => a + b.total, 0), completed = bars.reduce((a, b) => a + Math.min(b.completed, b.total), 0);
      $("run-bar").value = total ? completed / total : 0;
      $("run-lines").textContent = j.progress.map(b => b.line).join("\n");
    });
    $("run-bar").value = 1;
    $("report-link").href = done.result.report;  // a report key in the address: no token needed
    $("run-done").hidden = false;
    loadEdits();
  } catch (e) { showError(e.message); }
  finally { $("apply").disabled = false; }
}

async function loadEdits() {
  const s = await api("/api/state");
  const body = $("edits").querySelector("tbody");
  body.replaceChildren();
  state.edits = s.edits.map(e => e.name);
  for (const e of s.edits) {
    const tr = document.createElement("tr");
    for (const v of [e.name, e.kind, e.strength == null ? "" : e.strength.toFixed(3), e.state, e.stale.join("; ")]) {
      const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
    }
    if (e.report) {
      const a = document.createElement("a"); a.href = e.report; a.target = "_blank";
      a.textContent = e.name; tr.cells[0].textContent = ""; tr.cells[0].appendChild(a);
    }
    body.appendChild(tr);
  }
  return s;
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
  $("apply").addEventListener("click", apply);
  try {
    const s = await loadEdits();
    $("workspace").textContent = `${s.workspace}: ${s.photos} photos`;
    state.strength = s.strength; $("strength").value = s.strength; $("strength-value").textContent = s.strength;
    if (s.run) followRun(s.run);  // a run started in another tab, or before this tab was opened
    if (!s.ready) { showError(s.missing); return; }
    await loadPage(0);
  } catch (e) { showError(e.message); }
}

start();
