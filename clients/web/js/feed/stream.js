// A feed session over the WebSocket (docs/FEED-PROTOCOL.md): open it, keep
// the window filled by telling the server what happens to each item, take
// live counts, and resume with the last cursor after a reconnect.
import { socket } from "../socket.js";

export class FeedStream {
    constructor(kind, { window = 3, onItems, onCounts, onExhausted, onError } = {}) {
        this.kind = kind;
        this.window = window;
        this.sessionId = null;
        this.cursor = 0;
        this.items = [];
        this.handlers = { onItems, onCounts, onExhausted, onError };
        this.offs = [];
        this.closed = false;
    }

    async open() {
        this.offs.push(
            socket.on("feed.items", (d) => this._items(d)),
            socket.on("feed.counts", (d) => d.session_id === this.sessionId && this.handlers.onCounts && this.handlers.onCounts(d.posts)),
            socket.on("open", () => this._resume()),
        );
        const reply = await socket.request("feed.open", { kind: this.kind, window: this.window });
        this.sessionId = reply.data.session_id;
        this._flushEarly();
    }

    _items(d) {
        if (!this.sessionId) {
            (this.early ||= []).push(d); // items can race the session's reply on a busy loop
            return;
        }
        if (d.session_id !== this.sessionId || this.closed) return;
        this.cursor = Math.max(this.cursor, d.cursor);
        const fresh = d.items.filter((item) => item.index >= this.items.length);
        fresh.sort((a, b) => a.index - b.index);
        for (const item of fresh) if (item.index === this.items.length) this.items.push(item);
        if (fresh.length && this.handlers.onItems) this.handlers.onItems(fresh);
        if (d.exhausted && this.handlers.onExhausted) this.handlers.onExhausted();
    }

    _flushEarly() {
        const early = this.early || [];
        this.early = null;
        early.forEach((d) => this._items(d));
    }

    async _resume() {
        if (!this.sessionId || this.closed) return;
        try {
            await socket.request("feed.open", { session_id: this.sessionId, cursor: this.cursor });
        } catch (err) {
            // the session expired: start a new one where the list ends
            if (this.handlers.onError) this.handlers.onError(err);
        }
    }

    /** impression, view, complete, skip, not_interested: no reply needed. */
    event(postId, event, watchMs) {
        if (!this.sessionId || this.closed) return;
        const data = { session_id: this.sessionId, post_id: postId, event };
        if (watchMs !== undefined) data.watch_ms = Math.max(0, Math.min(3600000, Math.round(watchMs)));
        socket.send("feed.event", data);
    }

    /** like or share: resolves with the server's ack (a share's carries share_url). */
    async act(postId, event) {
        const reply = await socket.request("feed.event", { session_id: this.sessionId, post_id: postId, event });
        return reply.data;
    }

    close() {
        this.closed = true;
        this.offs.forEach((off) => off());
        if (this.sessionId) socket.send("feed.close", { session_id: this.sessionId });
    }
}
