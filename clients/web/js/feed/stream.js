// A feed session over the WebSocket (docs/FEED-PROTOCOL.md): open it, keep
// the window filled by telling the server what happens to each item, take
// live counts, and resume with the last cursor after a reconnect. The tab
// remembers its session and the item on screen (sessionStorage). Leaving the
// feed, reloading or closing the page closes the session (feed.close: the
// clips sent ahead and never reached go back to unseen, for any later
// session); coming back resumes it from the item the person was on, so
// nothing is lost as seen.
import { socket } from "../socket.js";
import { session } from "../session.js";

function keptKey(kind) {
    return session.user ? `fabula.feed.${session.user.id}.${kind}` : null;
}

/** {id, at}: the tab's session of this kind and the index of the item on screen, or null. */
function kept(kind) {
    try {
        const found = JSON.parse(sessionStorage.getItem(keptKey(kind)) || "null");
        return found && typeof found.id === "string" && Number.isInteger(found.at) ? found : null;
    } catch { return null; }
}

function keep(kind, sessionId, at = 0) {
    try {
        if (sessionId) sessionStorage.setItem(keptKey(kind), JSON.stringify({ id: sessionId, at }));
        else sessionStorage.removeItem(keptKey(kind));
    } catch { /* storage off: a reload opens a new session */ }
}

export class FeedStream {
    constructor(kind, { window = 3, onItems, onCounts, onExhausted, onError } = {}) {
        this.kind = kind;
        this.window = window;
        this.sessionId = null;
        this.cursor = 0;
        this.base = 0; // the index of the first item this page got (a resumed session's are further on)
        this.items = [];
        this.handlers = { onItems, onCounts, onExhausted, onError };
        this.offs = [];
        this.closed = false;
        this.at = 0; // the index of the item on screen
        this.onPageHide = () => this._sendClose();
    }

    async open() {
        this.offs.push(
            socket.on("feed.items", (d) => this._items(d)),
            socket.on("feed.counts", (d) => d.session_id === this.sessionId && this.handlers.onCounts && this.handlers.onCounts(d.posts)),
            socket.on("open", () => this._resume()),
            // another tab (a duplicated one shares this one's storage) resumed the session: start anew
            socket.on("error", (d) => {
                if (d.code !== "session_moved" || d.session_id !== this.sessionId || this.closed) return;
                if ((kept(this.kind) || {}).id === this.sessionId) keep(this.kind, null);
                if (this.handlers.onError) this.handlers.onError(Object.assign(new Error(d.message), { code: d.code }));
            }),
        );
        let reply = null;
        const before = keptKey(this.kind) && kept(this.kind);
        if (before) {
            try {
                // from the item the person was on: it, and what the session served after it, come again
                reply = await socket.request("feed.open", { session_id: before.id, cursor: before.at, window: this.window });
            } catch {
                keep(this.kind, null); // expired, or taken by another tab: a new one
            }
        }
        if (!reply) reply = await socket.request("feed.open", { kind: this.kind, window: this.window });
        this.sessionId = reply.data.session_id;
        this.base = this.cursor = this.at = reply.data.cursor;
        if (keptKey(this.kind)) keep(this.kind, this.sessionId, this.at);
        window.addEventListener("pagehide", this.onPageHide);
        this._flushEarly();
    }

    /** The item at ``index`` (of this page's items) is on screen: where a later visit resumes. */
    on(index) {
        this.at = this.base + index;
        if (this.sessionId && keptKey(this.kind)) keep(this.kind, this.sessionId, this.at);
    }

    _items(d) {
        if (!this.sessionId) {
            (this.early ||= []).push(d); // items can race the session's reply on a busy loop
            return;
        }
        if (d.session_id !== this.sessionId || this.closed) return;
        this.cursor = Math.max(this.cursor, d.cursor);
        const fresh = d.items.filter((item) => item.index - this.base >= this.items.length);
        fresh.sort((a, b) => a.index - b.index);
        for (const item of fresh) if (item.index - this.base === this.items.length) this.items.push(item);
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

    _sendClose() {
        if (this.sessionId && !this.closed) socket.send("feed.close", { session_id: this.sessionId });
    }

    /** Leaving the feed: the server takes back what was sent ahead unseen. The tab
     * keeps the session to resume where the person was, unless ``forget`` (a pull
     * to refresh starts anew). */
    close({ forget = false } = {}) {
        this._sendClose();
        this.closed = true;
        this.offs.forEach((off) => off());
        window.removeEventListener("pagehide", this.onPageHide);
        const mine = keptKey(this.kind) && kept(this.kind);
        if (forget && mine && mine.id === this.sessionId) keep(this.kind, null);
    }
}
