// What a person chose for a video they kept as a draft (its caption and who may
// see it), kept in this browser until it is posted or deleted: the server keeps
// the video, not the post it will become.
import { h, clear } from "./dom.js";

const key = (videoId) => `fabula.draft.${videoId}`;

export function keepDraft(videoId, caption, visibility) {
    try { localStorage.setItem(key(videoId), JSON.stringify({ caption, visibility })); } catch { /* storage off: the prompt is the caption */ }
}

export function draftChoices(videoId) {
    try { return JSON.parse(localStorage.getItem(key(videoId)) || "null"); } catch { return null; }
}

export function forgetDraft(videoId) {
    try { localStorage.removeItem(key(videoId)); } catch { /* nothing kept */ }
}

// Everyone / Followers / Only me, as a post's `visibility`
export function visibilityPicker(initial = "public") {
    let value = initial;
    const el = h("div.segmented", { role: "radiogroup", "aria-label": "Who can see it" });
    const render = () => clear(el, [["public", "Everyone"], ["followers", "Followers"], ["private", "Only me"]].map(([v, label]) =>
        h("button", { type: "button", "aria-pressed": String(v === value), dataset: { visibility: v }, onclick: () => { value = v; render(); } }, label)));
    render();
    return { el, get value() { return value; } };
}
