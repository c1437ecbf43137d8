// HTTP to the api: JSON in and out, the session's bearer token, and errors
// turned into sentences a person can read.
import { session } from "./session.js";

export class ApiError extends Error {
    constructor(status, code, message, details) {
        super(message);
        this.status = status;
        this.code = code;
        this.details = details;
    }
}

// What to say when the server's own message is written for developers.
const SENTENCES = {
    invalid_credentials: "That handle and password don't match.",
    handle_taken: "That handle is taken. Try another one.",
    missing_token: "Please sign in again.",
    invalid_token: "Your session ended. Please sign in again.",
    rate_limited: "Too many tries. Wait a moment and try again.",
    quota_exceeded: "You have videos cooking already. Wait for one to finish.",
    video_not_ready: "This video isn't ready yet.",
    challenge_expired: "That challenge expired. Here's a new one.",
    challenge_used: "That challenge was already used. Here's a new one.",
    likeness_taken: "This face already belongs to another account's cameo.",
    cameo_exists: "You already have a cameo. Delete it first to record a new one.",
    requests_closed: "This cameo is only for its owner.",
    not_found: "We couldn't find that.",
    post_not_found: "This post is gone, or it isn't shared with you.",
    comment_not_found: "That comment was deleted, or it isn't shown to you.",
    same_password: "That is your current password. Choose a new one.",
    network: "Can't reach Fabula. Check your connection.",
    too_young: "You must be at least 13 years old to have an account.",
};

// The strength check's verdict, as a person would say it: its hint in a sentence of its own.
function weakPassword(message) {
    if (/most common/.test(message)) return "That is one of the most common passwords. Choose another: a few unrelated words make a good one.";
    const hint = /\(([^)]*)\)/.exec(message);
    return `That password is too easy to guess.${hint ? ` ${hint[1].charAt(0).toUpperCase()}${hint[1].slice(1)}.` : ""} A few unrelated words make a good one.`;
}

function sentence(status, code, message, details) {
    if (code === "invalid_request" && Array.isArray(details) && details.length) {
        const first = details[0];
        const key = String(first.field || first.key || "").replace(/^\$\./, "");
        const text = String(first.message || message).replace(/ - at `[^`]*`$/, "").replace(/^[\w.[\]]+: /, "");
        if (key === "handle" || /handle/.test(text)) return "Handles are 3 to 30 letters, digits or underscores.";
        if (key === "password" && /length/.test(text)) return "Use a password of at least 8 characters.";
        return text.charAt(0).toUpperCase() + text.slice(1).replace(/\.?$/, ".");
    }
    if (code === "weak_password") return weakPassword(message);
    if (code === "conflict" && status === 409 && /handle/.test(message)) return SENTENCES.handle_taken;
    if (status === 401 && code !== "missing_token" && code !== "invalid_token") return SENTENCES.invalid_credentials;
    if (code === "too_young") return SENTENCES.too_young;
    if (code === "invalid_birth_date") return /future/.test(message) ? "That date is in the future. Enter the day you were born." : "Enter the day you were born (1900 or later).";
    if (code === "unknown_cameo" && details && details.mention) return `Nobody has a cameo called ${details.mention}. Check the spelling, or pick one with @.`;
    // refusals (moderation, cameo consent) carry the sentence to show: keep the server's words
    if (status === 422 || status === 403) return message;
    return SENTENCES[code] || message || `Something went wrong (${status}).`;
}

// `blob: true` answers the body as a Blob (a download) instead of JSON.
export async function api(path, { method = "GET", json, body, headers = {}, signal, auth = true, blob = false } = {}) {
    const h = { ...headers };
    const token = session.token;
    if (auth && token) h.Authorization = `Bearer ${token}`;
    if (json !== undefined) {
        h["Content-Type"] = "application/json";
        body = JSON.stringify(json);
    }
    let response;
    try {
        response = await fetch(path, { method, headers: h, body, signal });
    } catch (err) {
        if (err.name === "AbortError") throw err;
        throw new ApiError(0, "network", SENTENCES.network);
    }
    if (response.status === 204) return null;
    const type = response.headers.get("content-type") || "";
    const data = type.includes("json") ? await response.json().catch(() => null) : null;
    if (!response.ok) {
        const e = (data && data.error) || {};
        const err = new ApiError(response.status, e.code || "error", sentence(response.status, e.code, e.message || "", e.details), e.details);
        if (response.status === 401 && auth && token && (e.code === "invalid_token" || e.code === "missing_token")) session.expired();
        if (response.status === 429) {
            const wait = Number(response.headers.get("retry-after"));
            if (wait) err.message = `Too many tries. Try again in ${wait < 90 ? `${wait} s` : `${Math.ceil(wait / 60)} min`}.`;
        }
        throw err;
    }
    return blob ? response.blob() : data;
}

export const get = (path, opts) => api(path, opts);
export const post = (path, json, opts = {}) => api(path, { ...opts, method: "POST", json });
export const patch = (path, json, opts = {}) => api(path, { ...opts, method: "PATCH", json });
export const del = (path, opts = {}) => api(path, { ...opts, method: "DELETE" });

/** A multipart upload with progress (fetch has none for uploads). */
export function upload(path, form, onProgress) {
    return new Promise((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        xhr.open("POST", path);
        if (session.token) xhr.setRequestHeader("Authorization", `Bearer ${session.token}`);
        xhr.upload.onprogress = (e) => e.lengthComputable && onProgress && onProgress(e.loaded / e.total);
        xhr.onerror = () => reject(new ApiError(0, "network", SENTENCES.network));
        xhr.onload = () => {
            let data = null;
            try { data = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
            if (xhr.status >= 200 && xhr.status < 300) return resolve(data);
            const e = (data && data.error) || {};
            reject(new ApiError(xhr.status, e.code || "error", sentence(xhr.status, e.code, e.message || "", e.details), e.details));
        };
        xhr.send(form);
    });
}
