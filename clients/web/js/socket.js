// The app's one WebSocket (/v1/ws): JSON messages both ways, replies matched
// by id, binary preview frames decoded and handed to whoever watches that
// video, and reconnection with backoff. See docs/WEBSOCKET.md.
import { session } from "./session.js";

const CLOSE_UNAUTHORIZED = 4401;

/** A binary preview frame: event(4) format(4) n(1) video_id(n) step(4) steps(4) image(...). */
export function decodePreviewFrame(buffer) {
    const view = new DataView(buffer);
    const event = view.getUint32(0);
    const format = view.getUint32(4);
    const n = view.getUint8(8);
    const videoId = new TextDecoder().decode(new Uint8Array(buffer, 9, n));
    const step = view.getUint32(9 + n);
    const steps = view.getUint32(13 + n);
    const image = new Blob([new Uint8Array(buffer, 17 + n)], { type: format === 2 ? "image/png" : "image/jpeg" });
    return { event, videoId, step, steps, image };
}

class Socket {
    constructor() {
        this.ws = null;
        this.ready = false;
        this.nextId = 1;
        this.pending = new Map();
        this.handlers = new Map();
        this.frameHandlers = new Map();
        this.queue = [];
        this.retry = 0;
        this.wanted = false;
        this.user = null;
    }

    connect() {
        if (!session.signedIn) return;
        this.wanted = true;
        if (this.ws && this.ws.readyState <= 1) return;
        const scheme = location.protocol === "https:" ? "wss" : "ws";
        const ws = new WebSocket(`${scheme}://${location.host}/v1/ws?token=${encodeURIComponent(session.token)}`);
        ws.binaryType = "arraybuffer";
        this.ws = ws;
        ws.onmessage = (e) => this._receive(e.data);
        ws.onclose = (e) => this._closed(ws, e);
    }

    disconnect() {
        this.wanted = false;
        this.ready = false;
        this.queue = [];
        if (this.ws) this.ws.close(1000);
        this.ws = null;
    }

    on(type, fn) {
        if (!this.handlers.has(type)) this.handlers.set(type, new Set());
        this.handlers.get(type).add(fn);
        return () => this.handlers.get(type).delete(fn);
    }

    onFrames(videoId, fn) {
        this.frameHandlers.set(videoId, fn);
        return () => this.frameHandlers.get(videoId) === fn && this.frameHandlers.delete(videoId);
    }

    send(type, data = {}, id) {
        const text = JSON.stringify(id ? { type, data, id } : { type, data });
        if (this.ready && this.ws.readyState === 1) this.ws.send(text);
        else this.queue.push(text);
    }

    /** Send and wait for the reply with the same id (an `error` reply rejects). */
    request(type, data = {}, timeoutMs = 15000) {
        const id = `c${this.nextId++}`;
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => { this.pending.delete(id); reject(new Error(`${type}: no reply`)); }, timeoutMs);
            this.pending.set(id, { resolve, reject, timer });
            this.send(type, data, id);
        });
    }

    _emit(type, data) {
        for (const fn of this.handlers.get(type) || []) {
            try { fn(data); } catch (err) { console.error(err); }
        }
    }

    _receive(raw) {
        if (typeof raw !== "string") {
            const frame = decodePreviewFrame(raw);
            const fn = this.frameHandlers.get(frame.videoId);
            if (fn) fn(frame);
            return;
        }
        const msg = JSON.parse(raw);
        if (msg.type === "hello") {
            this.user = msg.data;
            this.ready = true;
            this.retry = 0;
            const queued = this.queue.splice(0);
            queued.forEach((text) => this.ws.send(text));
            this._emit("open", msg.data);
            return;
        }
        if (msg.id && this.pending.has(msg.id)) {
            const { resolve, reject, timer } = this.pending.get(msg.id);
            this.pending.delete(msg.id);
            clearTimeout(timer);
            if (msg.type === "error") reject(Object.assign(new Error(msg.data.message), { code: msg.data.code }));
            else resolve(msg);
        }
        this._emit(msg.type, msg.data);
    }

    _closed(ws, event) {
        if (ws !== this.ws) return;
        this.ready = false;
        this.ws = null;
        for (const { reject, timer } of this.pending.values()) { clearTimeout(timer); reject(new Error("connection closed")); }
        this.pending.clear();
        this._emit("close", { code: event.code });
        if (event.code === CLOSE_UNAUTHORIZED) { session.expired(); return; }
        if (!this.wanted) return;
        const delay = Math.min(10000, 400 * 2 ** this.retry++) * (0.75 + Math.random() / 2);
        setTimeout(() => this.wanted && this.connect(), delay);
    }
}

export const socket = new Socket();
