// The chapter page, live: each scene whose latest job is not finished follows it over /ws/jobs/ (the protocol of
// generation/consumers.py, as progress.js speaks it): status, progress, the latent preview, errors, and the
// finished pictures, which join the scene's grid (with its "Use this" form) without a reload.
import { FINAL, LABELS, LiveSocket, applyCommon } from "./progress.js";

const section = document.querySelector("[data-chapter-live]");
const PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000";

function part(root, name) {
  return root.querySelector(`[data-field="${name}"]`);
}

function setupChapter(root) {
  const scenes = [...root.querySelectorAll("[data-scene][data-job-id]")];
  const sceneFor = (jobId) => scenes.find((scene) => Number(scene.dataset.jobId) === jobId);
  const active = () => scenes.some((scene) => !FINAL.has(scene.dataset.jobStatus));
  const lastSeq = new Map();
  const seen = new Map(scenes.map((scene) => [scene, new Set([...scene.querySelectorAll("[data-image-id]")].map((node) => node.dataset.imageId))]));
  if (!active()) return;

  function showInMedia(scene, image, tile) {
    if (scene.dataset.chosen) return; // a chosen picture stays the scene's picture
    const media = part(scene, "media");
    const link = document.createElement("a");
    link.className = "tile-media rounded";
    link.href = tile.querySelector("a").href;
    const img = document.createElement("img");
    img.src = image.thumbnail_url;
    img.alt = tile.querySelector("img").alt;
    img.width = 200;
    img.height = 200;
    link.append(img);
    media.replaceChildren(link);
  }

  function addImage(scene, image) {
    const known = seen.get(scene);
    if (!image || known.has(image.id)) return;
    known.add(image.id);
    const template = scene.querySelector("template[data-image-tile]");
    const tile = template.content.firstElementChild.cloneNode(true);
    tile.dataset.imageId = image.id;
    const link = tile.querySelector("a");
    link.href = link.getAttribute("href").replace(PLACEHOLDER_ID, encodeURIComponent(image.id));
    tile.querySelector("img").src = image.thumbnail_url;
    tile.querySelector("input[name=image]").value = image.id;
    const grid = part(scene, "images");
    grid.prepend(tile);
    grid.hidden = false;
    showInMedia(scene, image, tile);
  }

  function apply(scene, state) {
    applyCommon(scene, state);
    const final = FINAL.has(scene.dataset.jobStatus);
    const live = part(scene, "live");
    if (live) live.hidden = final;
    const placeholder = part(scene, "placeholder");
    if (placeholder && state.status) placeholder.textContent = LABELS[state.status] || state.status;
  }

  function showPreview(scene, preview) {
    if (typeof preview !== "string" || !preview.startsWith("data:image/")) return;
    const node = part(scene, "preview");
    node.src = preview;
    node.hidden = false;
  }

  function onMessage(event) {
    if (event.type === "snapshot") {
      for (const job of event.jobs || []) {
        const scene = sceneFor(job.job);
        if (!scene) continue;
        lastSeq.set(job.job, job.seq || 0);
        (job.images || []).forEach((image) => addImage(scene, image));
        apply(scene, job);
      }
    } else {
      const scene = sceneFor(event.job);
      if (!scene || (event.seq && event.seq <= (lastSeq.get(event.job) || 0))) return;
      lastSeq.set(event.job, event.seq || 0);
      switch (event.type) {
        case "job.queued":
          apply(scene, { status: "queued" });
          break;
        case "job.started":
          apply(scene, { status: "running", percent: 0 });
          break;
        case "job.progress":
          apply(scene, { status: "running", percent: event.percent });
          showPreview(scene, event.preview);
          break;
        case "job.image":
          addImage(scene, event.image);
          break;
        case "job.succeeded":
          (event.images || []).forEach((image) => addImage(scene, image));
          apply(scene, { status: "succeeded", percent: 100 });
          break;
        case "job.failed":
          apply(scene, { status: "failed", error: event.error });
          break;
        case "job.canceled":
          apply(scene, { status: "canceled" });
          break;
        default:
          break;
      }
    }
    if (!active()) socket.close();
  }

  const connection = part(root, "connection");
  const socket = new LiveSocket("/ws/jobs/", onMessage, active, (state) => {
    if (!connection) return;
    connection.textContent = state === "live" ? connection.dataset.textLive : state === "reconnecting" ? connection.dataset.textReconnecting : "";
  });
}

/** After a move up/down the page reloads at the scene: focus comes back to the button pressed (or its twin at
 * either end), so the keyboard can keep moving the same scene. */
function keepFocusAcrossMoves(root) {
  const KEY = "zimage.scene-move";
  const remembered = sessionStorage.getItem(KEY);
  sessionStorage.removeItem(KEY);
  if (remembered) {
    const [sceneId, direction] = remembered.split(":");
    const scene = document.getElementById(`scene-${sceneId}`);
    const buttons = scene ? [...scene.querySelectorAll("[data-move]")] : [];
    const target = buttons.find((button) => button.dataset.move === direction && !button.disabled) || buttons.find((button) => !button.disabled);
    // After the load's own scroll to #scene-N, which would otherwise leave the focus on the page.
    if (target) window.addEventListener("load", () => setTimeout(() => target.focus(), 0), { once: true });
  }
  root.addEventListener("click", (event) => {
    const button = event.target.closest("[data-move]");
    const scene = button && button.closest("[data-scene]");
    if (scene) sessionStorage.setItem(KEY, `${scene.id.replace("scene-", "")}:${button.dataset.move}`);
  });
}

if (section) {
  keepFocusAcrossMoves(section);
  setupChapter(section);
}
