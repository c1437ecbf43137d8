// Videos and pictures behind the bearer token: <video> and <img> cannot send
// headers, so the bytes are fetched with the token and shown from a blob URL.
// Kept in a small cache, so the feed can fetch the next clips ahead.
import { session } from "./session.js";

const MAX = 16;
const cache = new Map(); // path -> Promise<string>

export function mediaUrl(path) {
    if (!path) return Promise.reject(new Error("no media"));
    if (!session.signedIn || path.startsWith("blob:")) return Promise.resolve(path);
    if (cache.has(path)) {
        const hit = cache.get(path);
        cache.delete(path);
        cache.set(path, hit);
        return hit;
    }
    const loading = fetch(path, { headers: { Authorization: `Bearer ${session.token}` } }).then(async (r) => {
        if (!r.ok) throw new Error(`media ${r.status}`);
        return URL.createObjectURL(await r.blob());
    });
    loading.catch(() => cache.delete(path));
    cache.set(path, loading);
    while (cache.size > MAX) {
        const [oldest, url] = cache.entries().next().value;
        cache.delete(oldest);
        url.then((u) => URL.revokeObjectURL(u)).catch(() => {});
    }
    return loading;
}

export const preload = (path) => { mediaUrl(path).catch(() => {}); };

export function forget(path) {
    const hit = cache.get(path);
    cache.delete(path);
    if (hit) hit.then((u) => URL.revokeObjectURL(u)).catch(() => {});
}

export function clearMedia() {
    for (const path of [...cache.keys()]) forget(path);
}

/** An <img> that loads an authed picture, with a shimmer until it arrives. */
export function authedImage(path, alt = "") {
    const img = document.createElement("img");
    img.alt = alt;
    img.loading = "lazy";
    img.decoding = "async";
    img.className = "loading";
    mediaUrl(path).then((u) => { img.src = u; img.onload = () => img.classList.remove("loading"); }).catch(() => img.classList.add("missing"));
    return img;
}
