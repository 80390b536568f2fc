// Backdrop's web app: sign in, upload, follow each job live, compare before and after, download.
// It talks only to this origin's /v1 API, as any client does; the session cookie stands in for the key.

const choices = JSON.parse(document.getElementById("choices").textContent);
const $ = (selector, root = document) => root.querySelector(selector);
const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const EVENT_TYPES = ["accepted", "stage_progress", "chunk_done", ...TERMINAL];
const PLAYABLE = { ".mp4": "video", ".webm": "video", ".png": "image", ".jpg": "image", ".webp": "image" };

// Jobs shown on this page, by id: { card, job, file (the user's own, for the "before" side), stages }.
const shown = new Map();

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function size(bytes) {
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (bytes >= 1000 && i < units.length - 1) { bytes /= 1000; i += 1; }
  return `${i ? bytes.toFixed(1) : bytes} ${units[i]}`;
}

// What went wrong, in words a person can act on.
function plainWords(status, detail, retryAfter) {
  if (Array.isArray(detail)) detail = detail.map((d) => d.msg).join("; ");
  switch (status) {
    case 0: return "The server could not be reached. Check that Backdrop is running (make run) and try again.";
    case 401: return "This key was not accepted: check it, or make one with `backdrop keys create NAME`.";
    case 413: return `The file is too large: this server takes files up to ${size(choices.upload_max_bytes)}.`;
    case 429: return `Too many requests for now: try again in ${retryAfter || "a few"} seconds.`;
    case 503: return `The service is busy or restarting (${detail || "unavailable"}): try again in a moment.`;
    default: return detail || `The server answered ${status}.`;
  }
}

async function api(path, { method = "GET", body, headers = {} } = {}) {
  let response;
  try {
    response = await fetch(path, { method, body, headers: { Accept: "application/json", ...headers } });
  } catch {
    throw new ApiError(0, plainWords(0));
  }
  if (!response.ok) {
    let detail = "";
    try { detail = (await response.json()).detail; } catch { /* not JSON: the status says enough */ }
    const error = new ApiError(response.status, plainWords(response.status, detail, response.headers.get("Retry-After")));
    if (response.status === 401 && !headers.Authorization) showSignIn("Your session has ended: sign in again.");
    throw error;
  }
  return response.status === 204 ? null : response.json();
}

function say(element, message) {
  element.textContent = message || "";
  element.hidden = !message;
}

// ---- signing in ---------------------------------------------------------------------------------------

function showSignIn(message) {
  for (const id of ["new", "current", "history", "who"]) $(`#${id}`).hidden = true;
  $("#signin").hidden = false;
  say($("#signin-error"), message);
  $("#key").focus();
}

async function showSignedIn(keyId) {
  $("#signin").hidden = true;
  $("#who-key").textContent = keyId;
  for (const id of ["new", "history", "who"]) $(`#${id}`).hidden = false;
  await Promise.all([loadModels(), loadPage(0)]);
}

async function signIn(key) {
  const session = await api("/v1/session", { method: "POST", headers: { Authorization: `Bearer ${key}` } });
  await showSignedIn(session.key_id);
}

function setUpSignIn() {
  $("#signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = $("#key").value.trim();
    try {
      await signIn(key);
      $("#key").value = "";
    } catch (error) {
      say($("#signin-error"), error.message);
    }
  });
  $("#sign-out").addEventListener("click", async () => {
    await api("/v1/session", { method: "DELETE" });
    location.reload();
  });
}

// ---- the new-job form -------------------------------------------------------------------------------

function isImage(file) {
  return choices.image_suffixes.some((suffix) => file.name.toLowerCase().endsWith(suffix));
}

function fill(select, values, chosen) {
  select.replaceChildren(...values.map((value) => new Option(value, value, false, value === chosen)));
}

async function loadModels() {
  const models = await api("/v1/models");
  const select = $("#model");
  select.replaceChildren(...models.map((m) => new Option(`${m.name} (${m.input_size[1]}×${m.input_size[0]})`, m.name)));
  const describe = () => {
    const model = models.find((m) => m.name === select.value);
    $("#model-about").textContent = model ? `${model.description} Licence: ${model.licence || "not stated"}.` : "";
  };
  select.addEventListener("change", describe);
  const fallback = models.find((m) => m.default) || models[0];
  if (fallback) select.value = fallback.name;
  describe();
}

function chosenBackground() {
  return document.querySelector('input[name="bg"]:checked').value;
}

// A transparent background needs a format with alpha; pick one for the user when theirs has none.
function suggestFormat() {
  const files = [...$("#files").files];
  const stills = files.length > 0 && files.every(isImage);
  const format = $("#format");
  const transparent = chosenBackground() === "transparent";
  if (transparent && choices.opaque_formats.includes(format.value)) format.value = stills ? "png" : "webm";
  else if (stills && ["mp4", "webm", "mov"].includes(format.value)) format.value = transparent ? "png" : "jpg";
  else if (!stills && files.length && ["jpg", "webp"].includes(format.value)) format.value = "mp4";
}

function setUpForm() {
  const d = choices.defaults;
  fill($("#format"), choices.formats, d.output_format);
  fill($("#quality"), choices.qualities, d.quality);
  $("#files").accept = choices.accept.join(",");
  $("#asset").accept = choices.accept.join(",");
  const blur = $("#blur");
  blur.max = String(choices.blur.max);
  blur.value = String(choices.blur.default);
  const showBlur = () => { $("#blur-value").textContent = blur.value; };
  blur.addEventListener("input", showBlur);
  showBlur();
  $("#mask").checked = d.mask;

  for (const radio of document.querySelectorAll('input[name="bg"]')) {
    radio.addEventListener("change", () => {
      for (const detail of document.querySelectorAll(".bg-detail")) detail.hidden = detail.dataset.for !== chosenBackground();
      suggestFormat();
    });
  }
  const files = $("#files");
  const listFiles = () => {
    $("#chosen").replaceChildren(...[...files.files].map((f) => Object.assign(document.createElement("li"), { textContent: `${f.name} (${size(f.size)})` })));
    suggestFormat();
  };
  files.addEventListener("change", listFiles);
  const drop = $("#drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    files.files = event.dataTransfer.files;
    listFiles();
  });
  $("#job-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    say($("#form-error"), "");
    $("#start").disabled = true;
    try {
      await startJobs();
    } catch (error) {
      say($("#form-error"), error.message);
    } finally {
      $("#start").disabled = false;
      $("#upload").hidden = true;
    }
  });
}

const assetBackgrounds = new WeakMap(); // File -> its asset's background SPEC, so one file uploads once

async function backgroundSpec() {
  switch (chosenBackground()) {
    case "blur": return `blur:${$("#blur").value}`;
    case "colour": return $("#colour").value;
    case "transparent": return "transparent";
    default: {
      const file = $("#asset").files[0];
      if (!file) throw new ApiError(422, "Choose the background file, or pick another background.");
      if (!assetBackgrounds.has(file)) {
        const body = new FormData();
        body.append("file", file);
        assetBackgrounds.set(file, (await api("/v1/assets", { method: "POST", body })).background);
      }
      return assetBackgrounds.get(file);
    }
  }
}

// XMLHttpRequest, not fetch: only it reports upload progress.
function upload(body, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", "/v1/uploads");
    request.responseType = "json";
    request.setRequestHeader("Accept", "application/json");
    request.upload.addEventListener("progress", (event) => onProgress(event.loaded, event.total));
    request.addEventListener("load", () => {
      if (request.status >= 200 && request.status < 300) resolve(request.response);
      else reject(new ApiError(request.status, plainWords(request.status, request.response?.detail, request.getResponseHeader("Retry-After"))));
    });
    request.addEventListener("error", () => reject(new ApiError(0, plainWords(0))));
    request.send(body);
  });
}

async function startJobs() {
  const files = [...$("#files").files];
  if (!files.length) throw new ApiError(422, "Choose at least one video or image first.");
  const tooBig = files.find((f) => f.size > choices.upload_max_bytes);
  if (tooBig) throw new ApiError(413, `${tooBig.name}: ${plainWords(413)}`);
  const body = new FormData();
  for (const file of files) body.append("file", file);
  body.append("background", await backgroundSpec());
  body.append("output_format", $("#format").value);
  body.append("quality", $("#quality").value);
  body.append("model", $("#model").value);
  body.append("mask", $("#mask").checked ? "true" : "false");
  $("#upload").hidden = false;
  const answer = await upload(body, (loaded, total) => {
    $("#upload-progress").value = total ? (100 * loaded) / total : 0;
    $("#upload-text").textContent = `${size(loaded)} of ${size(total)}`;
  });
  const jobs = answer.jobs || [answer]; // several files answer with their batch
  jobs.forEach((job, i) => track(job, files[i]));
  follow(answer.jobs ? `/v1/batches/${answer.id}/events` : `/v1/jobs/${answer.id}/events`, jobs);
  $("#files").value = "";
  $("#chosen").replaceChildren();
  loadPage(0);
}

// ---- following jobs ---------------------------------------------------------------------------------

function track(job, file) {
  let entry = shown.get(job.id);
  if (!entry) {
    const card = $("#job-card").content.firstElementChild.cloneNode(true);
    entry = { card, job, file, stages: {}, progress: job.progress };
    shown.set(job.id, entry);
    $(".name", card).textContent = file ? `${file.name} · ${job.id}` : job.id;
    $(".cancel", card).addEventListener("click", () => cancel(entry));
    $("#cards").prepend(card);
    $("#current").hidden = false;
  }
  entry.job = job;
  for (const [stage, state] of Object.entries(job.progress.stages)) entry.stages[stage] = state;
  entry.progress = job.progress;
  render(entry);
  return entry;
}

// One EventSource for a job or a whole batch; the browser reconnects by itself, sending Last-Event-ID.
function follow(url, jobs) {
  const open = new Set(jobs.filter((job) => !TERMINAL.has(job.status)).map((job) => job.id));
  if (!open.size) return;
  const source = new EventSource(url);
  for (const type of EVENT_TYPES) {
    source.addEventListener(type, (message) => {
      const data = JSON.parse(message.data);
      const entry = shown.get(data.job_id);
      if (!entry) return;
      onEvent(entry, type, data);
      if (TERMINAL.has(type)) {
        open.delete(data.job_id);
        if (!open.size) source.close(); // the server ends the stream; without this the browser would reopen it
      }
    });
  }
  source.addEventListener("error", () => {
    // CLOSED: refused (the session ended, or the job was deleted); otherwise the browser is reconnecting.
    if (source.readyState === EventSource.CLOSED) for (const id of open) refresh(id);
  });
}

function onEvent(entry, type, data) {
  if (data.progress) entry.progress = { ...entry.progress, ...data.progress };
  if (type === "stage_progress") entry.stages[data.stage] = { chunks_done: data.chunks_done, chunks_total: data.chunks_total };
  if (type === "accepted") entry.job = { ...entry.job, status: "running" };
  if (TERMINAL.has(type)) {
    entry.job = { ...entry.job, status: type };
    refresh(entry.job.id);
    loadPage(currentPage);
  }
  render(entry);
}

async function refresh(jobId) {
  try {
    track(await api(`/v1/jobs/${jobId}`), null);
  } catch (error) {
    const entry = shown.get(jobId);
    if (entry) say($(".error", entry.card), error.message);
  }
}

async function cancel(entry) {
  try {
    await api(`/v1/jobs/${entry.job.id}/cancel`, { method: "POST" });
    $(".cancel", entry.card).disabled = true;
  } catch (error) {
    say($(".error", entry.card), error.message);
  }
}

// ---- drawing a job ----------------------------------------------------------------------------------

function duration(seconds) {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

function numbers(progress, status) {
  const parts = [`${progress.percent}%`];
  if (progress.frames_total) parts.push(`${progress.frames_done} of ${progress.frames_total} frames`);
  if (progress.fps) parts.push(`${progress.fps.toFixed(1)} fps`);
  if (!TERMINAL.has(status) && progress.eta_s != null) parts.push(`about ${duration(progress.eta_s)} left`);
  return parts.join(" · ");
}

function render(entry) {
  const { card, job } = entry;
  const status = $(".status", card);
  status.textContent = job.status;
  status.dataset.status = job.status;
  $(".cancel", card).hidden = TERMINAL.has(job.status);
  const progress = entry.progress;
  $(".overall progress", card).value = progress.percent;
  $(".overall progress", card).setAttribute("aria-label", `${job.id}: ${progress.percent}%`);
  $(".numbers", card).textContent = numbers(progress, job.status);
  const stages = choices.stages.filter((stage) => entry.stages[stage]);
  $(".stages", card).replaceChildren(...stages.map((stage) => stageRow(stage, entry.stages[stage])));
  if (job.error) say($(".error", card), failure(job));
  else if (job.status === "cancelled") say($(".error", card), "Cancelled.");
  // The terminal event carries no artifacts: the result shows once the job read after it lists them.
  if (job.status === "completed" && job.artifacts.some((a) => a.kind === "output") && !entry.resultShown) {
    entry.resultShown = true;
    showResult(entry);
  }
}

function stageRow(stage, state) {
  const row = document.createElement("li");
  row.dataset.stage = stage;
  const bar = Object.assign(document.createElement("progress"), { max: state.chunks_total, value: state.chunks_done });
  bar.setAttribute("aria-label", `${stage}: ${state.chunks_done} of ${state.chunks_total} chunks`);
  row.append(Object.assign(document.createElement("span"), { textContent: stage }), bar,
    Object.assign(document.createElement("span"), { textContent: `${state.chunks_done}/${state.chunks_total}` }));
  return row;
}

function failure(job) {
  const where = job.error.stage ? ` at the ${job.error.stage} stage` : "";
  return `This job failed${where}: ${job.error.message} (${job.error.code})`;
}

const LABELS = { output: "Result", mask: "Matte", hero: "Hero still", cutout: "Cut-out", poster: "Poster" };

function suffixOf(path) {
  const dot = path.lastIndexOf(".");
  return dot < 0 ? "" : path.slice(dot).toLowerCase();
}

function media(kind, src) {
  const element = document.createElement(kind === "video" ? "video" : "img");
  if (kind === "video") Object.assign(element, { muted: true, loop: true, playsInline: true, preload: "auto" });
  else element.alt = "";
  element.src = src;
  return element;
}

function showResult(entry) {
  const { card, job, file } = entry;
  const result = $(".result", card);
  result.hidden = false;
  const output = job.artifacts.find((a) => a.kind === "output");
  const frame = $(".frame", card);
  const kind = output && PLAYABLE[suffixOf(output.href)];
  const after = $(".layer.after", card);
  // Its own backing: a transparent result must not show the "before" layer through its holes.
  if (job.options.background === "transparent") after.classList.add("checker");
  const before = $(".layer.before", card);
  if (kind) {
    after.append(media(kind, output.href));
    after.firstElementChild.setAttribute("aria-label", "After: the result");
    if (file) {
      before.append(media(isImage(file) ? "image" : "video", URL.createObjectURL(file)));
      before.firstElementChild.setAttribute("aria-label", "Before: your upload");
    } else {
      frame.classList.add("single");
      $(".split-label", card).hidden = true;
      say($(".preview-note", card), "The original stays only in the browser that uploaded it: this shows the result alone.");
    }
    const split = $(".split", card);
    split.addEventListener("input", () => frame.style.setProperty("--split", `${split.value}%`));
    if (kind === "video") setUpPlayback(card);
  } else {
    $(".compare", card).hidden = true;
    say($(".preview-note", card), `A browser cannot show ${output ? suffixOf(output.href) : "this"} files: download the result below.`);
  }
  const stills = job.artifacts.filter((a) => a.kind === "hero" || a.kind === "cutout");
  $(".heroes", card).replaceChildren(...stills.map((still, i) => {
    const figure = document.createElement("figure");
    const image = media("image", still.href);
    image.alt = `${LABELS[still.kind]} ${i + 1}`;
    if (still.kind === "cutout" || job.options.background === "transparent") image.classList.add("checker");
    figure.append(image, Object.assign(document.createElement("figcaption"), { textContent: LABELS[still.kind] }));
    return figure;
  }));
  const counts = {};
  $(".downloads", card).replaceChildren(...job.artifacts.map((artifact) => {
    counts[artifact.kind] = (counts[artifact.kind] || 0) + 1;
    const several = job.artifacts.filter((a) => a.kind === artifact.kind).length > 1;
    const link = Object.assign(document.createElement("a"), {
      href: artifact.href,
      textContent: `${LABELS[artifact.kind]}${several ? ` ${counts[artifact.kind]}` : ""} (${suffixOf(artifact.href).slice(1)})`,
    });
    link.setAttribute("download", "");
    link.dataset.kind = artifact.kind;
    const item = document.createElement("li");
    item.append(link);
    return item;
  }));
}

function setUpPlayback(card) {
  const play = $(".play", card);
  const videos = [...card.querySelectorAll(".frame video")];
  play.hidden = false;
  play.addEventListener("click", () => {
    const paused = videos[videos.length - 1].paused;
    for (const video of videos) {
      if (paused) video.play().catch(() => {}); else video.pause();
    }
    play.textContent = paused ? "Pause" : "Play";
  });
  if (videos.length === 2) {
    const [leader, follower] = videos;
    leader.addEventListener("timeupdate", () => {
      if (Math.abs(follower.currentTime - leader.currentTime) > 0.15) follower.currentTime = leader.currentTime;
    });
  }
}

// ---- the jobs list ----------------------------------------------------------------------------------

const cursors = [null]; // the cursor of each page seen so far, for Newer
let currentPage = 0;

async function loadPage(index) {
  const params = new URLSearchParams({ limit: "10" });
  const status = $("#status-filter").value;
  if (status) params.set("status", status);
  if (cursors[index]) params.set("cursor", cursors[index]);
  let page;
  try {
    page = await api(`/v1/jobs?${params}`);
  } catch {
    return; // the sign-in form or the job cards say what went wrong
  }
  currentPage = index;
  cursors[index + 1] = page.next_cursor;
  $("#older").disabled = !page.next_cursor;
  $("#newer").disabled = index === 0;
  $("#job-rows").replaceChildren(...page.items.map(jobRow));
  if (!page.items.length) {
    const row = document.createElement("tr");
    row.append(Object.assign(document.createElement("td"), { colSpan: 5, textContent: "No jobs yet." }));
    $("#job-rows").append(row);
  }
}

function jobRow(job) {
  const row = document.createElement("tr");
  const open = Object.assign(document.createElement("button"), { type: "button", className: "quiet", textContent: job.id });
  open.setAttribute("aria-label", `Show job ${job.id}`);
  open.addEventListener("click", () => {
    const entry = track(job, shown.get(job.id)?.file ?? null);
    follow(`/v1/jobs/${job.id}/events`, [job]);
    entry.card.scrollIntoView({ behavior: "smooth" });
  });
  const cells = [open, job.status, `${job.progress.percent}%`, job.options.output_format,
    new Date(job.timings.submitted_at).toLocaleString()];
  row.append(...cells.map((content) => {
    const cell = document.createElement("td");
    cell.append(content);
    return cell;
  }));
  return row;
}

function setUpHistory() {
  $("#status-filter").addEventListener("change", () => { cursors.length = 1; loadPage(0); });
  $("#refresh").addEventListener("click", () => loadPage(currentPage));
  $("#older").addEventListener("click", () => loadPage(currentPage + 1));
  $("#newer").addEventListener("click", () => loadPage(currentPage - 1));
}

// ---- start ------------------------------------------------------------------------------------------

async function start() {
  setUpSignIn();
  setUpForm();
  setUpHistory();
  // `make run` prints this page's address with the demo key in the fragment, which never leaves the browser.
  const fromLink = new URLSearchParams(location.hash.slice(1)).get("key");
  if (fromLink) {
    history.replaceState(null, "", location.pathname);
    try {
      await signIn(fromLink);
    } catch (error) {
      showSignIn(error.message);
    }
    return;
  }
  const session = await api("/v1/session").catch(() => ({ key_id: null }));
  if (session.key_id) await showSignedIn(session.key_id);
  else showSignIn("");
}

start();
