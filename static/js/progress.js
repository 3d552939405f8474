// Live job progress over the WebSocket protocol of generation/consumers.py.
// A job page follows /ws/jobs/<id>/; lists (dashboard, history, a batch's jobs and its counts by status) follow
// /ws/jobs/ for every row they show.
// The server sends a snapshot first, then numbered events; the page only ever moves forward (seq).

// User-facing strings go through Django's JavaScript catalog (base.html loads it first; /i18n/js/).
const gettext = window.gettext || ((text) => text);
const ngettext = window.ngettext || ((one, many, count) => (count === 1 ? one : many));
const interpolate = window.interpolate || ((format, values) => format.replace(/%\((\w+)\)s/g, (_, key) => String(values[key])));

export const FINAL = new Set(["succeeded", "failed", "canceled"]);
export const LABELS = {
  queued: gettext("Queued"),
  running: gettext("Running"),
  succeeded: gettext("Succeeded"),
  failed: gettext("Failed"),
  canceled: gettext("Canceled"),
};

function socketUrl(path) {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${window.location.host}${path}`;
}

function part(root, name) {
  return root.querySelector(`[data-field="${name}"]`);
}

function formatSeconds(value) {
  if (value == null) return "";
  if (value < 10) return interpolate(gettext("%(seconds)s s"), { seconds: value.toFixed(1) }, true);
  if (value < 60) return interpolate(gettext("%(seconds)s s"), { seconds: Math.round(value) }, true);
  const minutes = Math.floor(value / 60);
  const rest = Math.round(value % 60);
  return rest
    ? interpolate(gettext("%(minutes)s min %(seconds)s s"), { minutes, seconds: rest }, true)
    : interpolate(gettext("%(minutes)s min"), { minutes }, true);
}

/** A socket that reconnects with backoff until `shouldStay()` says the page no longer needs it. */
export class LiveSocket {
  constructor(path, onMessage, shouldStay, onState) {
    this.path = path;
    this.onMessage = onMessage;
    this.shouldStay = shouldStay;
    this.onState = onState || (() => {});
    this.delay = 1000;
    this.socket = null;
    this.connect();
  }

  connect() {
    this.socket = new WebSocket(socketUrl(this.path));
    this.socket.addEventListener("open", () => {
      this.delay = 1000;
      this.onState("live");
    });
    this.socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      this.onMessage(message);
    });
    this.socket.addEventListener("close", (event) => {
      this.socket = null;
      if (event.code === 4401 || event.code === 4404 || !this.shouldStay()) {
        this.onState("closed");
        return;
      }
      this.onState("reconnecting");
      setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 15000);
    });
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  close() {
    if (this.socket) this.socket.close();
  }
}

/** Status, progress bar and the cancel/retry forms: shared by the job page and list rows. */
export function applyCommon(root, state) {
  if (state.status) {
    root.dataset.jobStatus = state.status;
    const badge = part(root, "status");
    if (badge) {
      badge.className = `badge badge-${state.status}`;
      badge.textContent = LABELS[state.status] || state.status;
    }
    const final = FINAL.has(state.status);
    const cancel = part(root, "cancel");
    const retry = part(root, "retry");
    if (cancel) cancel.hidden = final;
    if (retry) retry.hidden = !final;
    const progress = part(root, "progress");
    if (progress && root.matches("[data-jobs-live] [data-job-id]")) progress.hidden = final;
  }
  if (typeof state.percent === "number") {
    const progress = part(root, "progress");
    if (progress) {
      progress.value = state.percent;
      progress.textContent = `${state.percent}%`;
    }
  }
  const error = part(root, "error");
  if (error && state.status) {
    error.hidden = !(state.status === "failed" && state.error);
    if (state.error) error.textContent = state.error;
  }
}

// --- One job ---------------------------------------------------------------------------------

function setupJobPage(root) {
  const jobId = Number(root.dataset.jobId);
  const numImages = Number(root.dataset.numImages);
  const imageUrlTemplate = root.dataset.imageUrl;
  const seenImages = new Set([...root.querySelectorAll("[data-image-id]")].map((node) => node.dataset.imageId));
  let lastSeq = 0;
  let socket = null;

  const setText = (name, text) => {
    const node = part(root, name);
    if (node) node.textContent = text;
  };

  function addImage(image) {
    if (!image || seenImages.has(image.id)) return;
    seenImages.add(image.id);
    const item = document.createElement("li");
    item.className = "tile";
    item.dataset.imageId = image.id;
    const link = document.createElement("a");
    link.className = "tile-media";
    link.href = imageUrlTemplate.replace("00000000-0000-0000-0000-000000000000", encodeURIComponent(image.id));
    const img = document.createElement("img");
    img.src = image.thumbnail_url;
    img.alt = interpolate(gettext("Image %(number)s of job %(job)s"), { number: Number(image.index) + 1, job: jobId }, true);
    img.width = 256;
    img.height = 256;
    link.append(img);
    const body = document.createElement("div");
    body.className = "tile-body";
    const meta = document.createElement("span");
    meta.className = "tile-meta";
    meta.textContent = interpolate(gettext("Seed %(seed)s · %(width)s×%(height)s"), image, true);
    body.append(meta);
    item.append(link, body);
    const list = part(root, "images");
    const siblings = [...list.children];
    const after = siblings.find((node) => Number(node.dataset.index) > Number(image.index));
    item.dataset.index = image.index;
    list.insertBefore(item, after || null);
    part(root, "images-empty").hidden = true;
  }

  function message(status, extra) {
    const done = seenImages.size;
    switch (status) {
      case "queued":
        return extra && extra.retry_count
          ? interpolate(gettext("Waiting for a worker (retry %(count)s)."), { count: extra.retry_count }, true)
          : gettext("Waiting for a worker.");
      case "running":
        return interpolate(gettext("Generating image %(number)s of %(count)s."), { number: Math.min(done + 1, numImages), count: numImages }, true);
      case "succeeded":
        return interpolate(ngettext("Done: %(count)s image ready.", "Done: %(count)s images ready.", numImages), { count: numImages }, true);
      case "canceled":
        return gettext("Canceled. Credits for images that were not made are returned.");
      case "failed":
        return gettext("This job failed. Its credits are returned.");
      default:
        return "";
    }
  }

  function finish(status) {
    part(root, "preview-section").hidden = true;
    setText("eta", "");
    if (status === "succeeded") {
      const progress = part(root, "progress");
      progress.value = 100;
      setText("percent", "100");
    }
    if (!seenImages.size) {
      setText("images-empty", gettext("This job made no images."));
      part(root, "images-empty").hidden = false;
    }
    if (socket) socket.close();
  }

  /** The queued job's place, in the page's language (the template's data-text-* carry the translations). */
  function showQueue(state) {
    const node = part(root, "queue");
    if (!node) return;
    if (state.status !== "queued" || typeof state.queue_position !== "number") {
      if (state.status && state.status !== "queued") node.hidden = true;
      return;
    }
    const position = state.queue_position;
    const template = position === 0 ? node.dataset.textNext : position === 1 ? node.dataset.textOne : node.dataset.textMany;
    node.textContent = template
      .replace("{count}", String(position))
      .replace("{seconds}", formatSeconds(state.estimated_start_seconds || 0));
    node.hidden = false;
  }

  function apply(state) {
    applyCommon(root, state);
    showQueue(state);
    if (typeof state.step === "number" && state.total) setText("steps", interpolate(gettext("Step %(step)s of %(total)s"), state, true));
    if (typeof state.percent === "number") setText("percent", String(state.percent));
    if (state.status) setText("message", message(state.status, state));
    if (FINAL.has(state.status)) finish(state.status);
  }

  function onMessage(event) {
    if (event.type === "snapshot") {
      const job = (event.jobs || []).find((item) => item.job === jobId);
      if (!job) return;
      lastSeq = Math.max(lastSeq, job.seq || 0);
      (job.images || []).forEach(addImage);
      apply(job);
      return;
    }
    if (event.job !== jobId || (event.seq && event.seq <= lastSeq)) return;
    lastSeq = event.seq || lastSeq;
    switch (event.type) {
      case "job.queued":
        apply({
          status: "queued",
          error: event.error,
          retry_count: event.retry_count,
          queue_position: event.queue_position,
          estimated_start_seconds: event.estimated_start_seconds,
        });
        if (event.estimated_seconds) setText("eta", interpolate(gettext("Estimated %(time)s"), { time: formatSeconds(event.estimated_seconds) }, true));
        break;
      case "job.started":
        apply({ status: "running", step: 0, total: event.total, percent: 0 });
        setText("eta", gettext("Starting…"));
        break;
      case "job.progress": {
        apply({ status: "running", step: event.step, total: event.total, percent: event.percent });
        setText("eta", event.eta_seconds != null ? interpolate(gettext("About %(time)s left"), { time: formatSeconds(event.eta_seconds) }, true) : "");
        if (typeof event.preview === "string" && event.preview.startsWith("data:image/")) {
          const preview = part(root, "preview");
          preview.src = event.preview;
          preview.hidden = false;
          part(root, "preview-empty").hidden = true;
        }
        break;
      }
      case "job.image":
        addImage(event.image);
        setText("message", message("running"));
        break;
      case "job.succeeded":
        (event.images || []).forEach(addImage);
        apply({ status: "succeeded", percent: 100 });
        break;
      case "job.failed":
        apply({ status: "failed", error: event.error });
        break;
      case "job.canceled":
        apply({ status: "canceled" });
        break;
      default:
        break;
    }
  }

  if (FINAL.has(root.dataset.jobStatus)) return;
  socket = new LiveSocket(
    `/ws/jobs/${jobId}/`,
    onMessage,
    () => !FINAL.has(root.dataset.jobStatus),
    (state) => setText("connection", state === "live" ? gettext("● Live") : state === "reconnecting" ? gettext("Reconnecting…") : ""),
  );

  const cancelForm = root.querySelector("[data-cancel-form]");
  if (cancelForm) {
    cancelForm.addEventListener("submit", (event) => {
      if (event.defaultPrevented) return;
      if (socket.send({ type: "job.cancel", job: jobId })) {
        event.preventDefault();
        const button = cancelForm.querySelector("button");
        button.disabled = true;
        setText("message", gettext("Canceling…"));
      }
    });
  }
}

// --- Lists -----------------------------------------------------------------------------------

function setupJobLists(lists) {
  const rows = () => [...document.querySelectorAll("[data-jobs-live] [data-job-id]")];
  const rowFor = (id) => rows().find((row) => Number(row.dataset.jobId) === id);
  const lastSeq = new Map();
  const anyActive = () => rows().some((row) => !FINAL.has(row.dataset.jobStatus));
  if (!lists.length || !anyActive()) return;

  /** A batch page's counts by status ([data-batch-counts], every row one of its jobs), recounted from the rows. */
  function recount() {
    for (const node of document.querySelectorAll("[data-batch-counts]")) {
      const counted = new Map();
      for (const row of rows()) counted.set(row.dataset.jobStatus, (counted.get(row.dataset.jobStatus) || 0) + 1);
      const badges = Object.keys(LABELS)
        .filter((status) => counted.get(status))
        .flatMap((status) => {
          const badge = document.createElement("span");
          badge.className = "badge";
          badge.dataset.status = status;
          badge.textContent = `${LABELS[status]}: ${counted.get(status)}`;
          return [badge, " "];
        });
      node.replaceChildren(...badges);
    }
  }

  function onMessage(event) {
    if (event.type === "snapshot") {
      for (const job of event.jobs || []) {
        const row = rowFor(job.job);
        if (!row) continue;
        lastSeq.set(job.job, job.seq || 0);
        applyCommon(row, job);
      }
      recount();
      return;
    }
    const row = rowFor(event.job);
    if (!row || (event.seq && event.seq <= (lastSeq.get(event.job) || 0))) return;
    lastSeq.set(event.job, event.seq || 0);
    const status = event.type.replace("job.", "");
    if (status === "progress" || status === "image" || status === "started") {
      applyCommon(row, { status: "running", percent: event.percent });
    } else if (LABELS[status]) {
      applyCommon(row, { status, error: event.error, percent: status === "succeeded" ? 100 : undefined });
    }
    recount();
    if (!anyActive()) socket.close();
  }

  const socket = new LiveSocket("/ws/jobs/?previews=0", onMessage, anyActive);
}

const jobPage = document.querySelector("[data-job-live]");
if (jobPage) setupJobPage(jobPage);
setupJobLists([...document.querySelectorAll("[data-jobs-live]")]);
