// The /verify page: sends the dropped file to POST /v1/provenance/check and shows the answer.

const drop = document.getElementById("drop");
const input = document.getElementById("file");
const status = document.getElementById("status");
const result = document.getElementById("result");

function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
}

function percent(x) {
    return `${Math.round(x * 100)}%`;
}

function videoLine(video) {
    if (!video) return "none";
    if (video.state === "removed") return el("span", { class: "removed" }, `video ${video.video_id} (removed)`);
    if (video.post_id) {
        const by = video.author ? `@${video.author}` : "a post";
        const caption = video.caption ? `: “${video.caption.length > 80 ? video.caption.slice(0, 79) + "…" : video.caption}”` : "";
        return el("a", { href: `/p/${encodeURIComponent(video.post_id)}`, title: video.post_id }, `${by}${caption}`);
    }
    return `video ${video.video_id} (not public)`;
}

function card(title, rows) {
    const list = el("dl");
    for (const [name, value] of rows) list.append(el("dt", {}, name), el("dd", {}, value));
    return el("div", { class: "card" }, el("h2", {}, title), list);
}

function show(answer) {
    result.replaceChildren();
    const verdict = answer.from_here
        ? el("div", { class: `verdict ${answer.video && answer.video.state === "removed" ? "removed" : "yes"}` },
            `Made on Fabula (confidence ${percent(answer.confidence)})`)
        : el("div", { class: "verdict no" }, "No sign that this came from here");
    result.append(el("div", { class: "card" }, verdict, answer.video ? el("div", {}, videoLine(answer.video)) : ""));

    const m = answer.manifest;
    const generation = (m.claims && m.claims.generation) || {};
    result.append(card("Signed manifest (C2PA)", [
        ["state", el("span", { class: m.state === "valid" ? "yes" : m.state === "invalid" ? "bad" : "no" }, m.state)],
        ["signed here", m.trusted ? "yes" : "no"],
        ["creator", generation.creator || "—"],
        ["model", generation.model || "—"],
        ["names", videoLine(m.video)],
        ["confidence", percent(m.confidence)],
    ]));
    const w = answer.watermark;
    result.append(card("Hidden key", [
        ["key", w.found ? w.key : "not found (re-encoding, cropping or a very small frame can wipe it out)"],
        ["bits read right", w.found ? percent(w.bit_confidence) : "—"],
        ["names", videoLine(w.video)],
        ["confidence", percent(w.confidence)],
    ]));
    const rows = answer.perceptual.length
        ? answer.perceptual.map((p) => [videoLine(p.video), `${p.matched_frames} of ${p.query_frames} frames alike, confidence ${percent(p.confidence)}`])
        : [["match", "none"]];
    result.append(card("Looks like", rows));
}

async function check(file) {
    result.replaceChildren();
    status.textContent = `Checking ${file.name}…`;
    const body = new FormData();
    body.append("file", file);
    try {
        const response = await fetch("/v1/provenance/check", { method: "POST", body });
        const answer = await response.json();
        if (!response.ok) {
            const said = (answer.error && answer.error.message) || `the check failed (${response.status})`;
            status.textContent = said.charAt(0).toUpperCase() + said.slice(1).replace(/\.?$/, ".");
            return;
        }
        status.textContent = "";
        show(answer);
    } catch (error) {
        status.textContent = `The check failed: ${error.message}`;
    }
}

input.addEventListener("change", () => input.files[0] && check(input.files[0]));
for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (event) => { event.preventDefault(); drop.classList.add("over"); });
}
for (const name of ["dragleave", "drop"]) {
    drop.addEventListener(name, () => drop.classList.remove("over"));
}
drop.addEventListener("drop", (event) => {
    event.preventDefault();
    const file = event.dataTransfer.files[0];
    if (file) check(file);
});

// /verify?post=ID (the app's "Check where it came from"): the post's own video, fetched
// and checked as a copy found elsewhere would be: the public share's file, or, for a post
// that is not public, its content with this browser's session (the app's, in localStorage)
async function checkPost(postId) {
    status.textContent = "Fetching the video…";
    let response = await fetch(`/p/${encodeURIComponent(postId)}/video`);
    if (!response.ok) {
        let token = null;
        try { token = (JSON.parse(localStorage.getItem("fabula.session")) || {}).token; } catch { /* none */ }
        if (token) response = await fetch(`/v1/posts/${encodeURIComponent(postId)}/content`, { headers: { Authorization: `Bearer ${token}` } });
    }
    if (!response.ok) {
        status.textContent = "That video can't be fetched here (it is gone, or not shared with you). Drop a copy of it instead.";
        return;
    }
    const blob = await response.blob();
    await check(new File([blob], `${postId}.mp4`, { type: blob.type || "video/mp4" }));
}

const asked = new URLSearchParams(location.search).get("post");
if (asked) checkPost(asked).catch((error) => { status.textContent = `The check failed: ${error.message}`; });
