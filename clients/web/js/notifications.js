// Notifications for the whole session: the unread count (the tab's badge),
// new ones pushed live over the WebSocket, and how each kind reads.
import { get, post } from "./api.js";
import { socket } from "./socket.js";
import { toast } from "./ui.js";
import { session } from "./session.js";

const WHAT = {
    like: "liked your video",
    comment: "commented on your video",
    reply: "replied to your comment",
    follow: "started following you",
    follow_request: "asked to follow you",
    follow_accepted: "accepted your follow request",
    remix: "remixed your video",
    cameo_request: "asked to use your cameo",
    cameo_approved: "approved your cameo request",
    cameo_declined: "declined your cameo request",
    cameo_revoked: "took back your cameo access",
    cameo_used: "made a video with your cameo",
    cameo_removed: "removed a video with their cameo",
    report_actioned: "acted on your report",
    content_removed: "removed something of yours that breaks the rules",
};
const ICON = {
    like: "heartFill", comment: "comment", reply: "comment", follow: "userPlus", remix: "remix",
    cameo_request: "face", cameo_approved: "check", cameo_declined: "close", cameo_revoked: "lock",
    cameo_used: "face", cameo_removed: "trash", follow_request: "userPlus", follow_accepted: "check",
    report_actioned: "shield", content_removed: "shield",
};

export const describe = (n) => WHAT[n.kind] || "sent you something";
// the moderators' notices name no one (their actor is null)
export const who = (n) => (n.actor ? `@${n.actor.handle}` : "Fabula's moderators");
export const iconFor = (n) => ICON[n.kind] || "bell";

let unread = 0;
let off = null;
const countListeners = new Set();
const newListeners = new Set();
let quiet = false; // the inbox is on screen: no toasts

// Tabs of one browser share the session (session.js): a count read from the
// server after marking read is told to the others, which get no push for it.
const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel("fabula.notifications") : null;
if (channel) {
    channel.onmessage = (e) => {
        const m = e.data || {};
        if (off && session.user && m.user === session.user.id && Number.isInteger(m.unread)) setCount(m.unread);
    };
}

function setCount(n, { share = false } = {}) {
    unread = Math.max(0, n);
    countListeners.forEach((fn) => fn(unread));
    if (share && channel && session.user) channel.postMessage({ user: session.user.id, unread });
}

// bumped by every mark-read: a count read before one (still on its way) is stale
let marks = 0;

async function refresh() {
    const seen = marks;
    try {
        const page = await get("/v1/notifications?limit=1");
        if (off && seen === marks) setCount(page.unread_count);
    } catch { /* the badge stays as it is */ }
}

// back on a tab that was hidden: what changed meanwhile (read elsewhere, removed by a block) shows
document.addEventListener("visibilitychange", () => { if (off && document.visibilityState === "visible") refresh(); });

export const notifications = {
    get unread() { return unread; },
    onCount(fn) { countListeners.add(fn); fn(unread); return () => countListeners.delete(fn); },
    onNew(fn) { newListeners.add(fn); return () => newListeners.delete(fn); },
    setQuiet(value) { quiet = value; },
    async start() {
        this.stop();
        off = socket.on("notification", (n) => {
            setCount(unread + 1);
            newListeners.forEach((fn) => fn(n));
            if (!quiet) toast(`${who(n)} ${describe(n)}`, n.actor ? { author: n.actor } : { iconName: iconFor(n) });
        });
        await refresh();
    },
    stop() { if (off) off(); off = null; setCount(0); },
    /** Mark every notification read; `known`: the unread count a page just read says
     * (the badge's own count may not have come back yet on a fresh load). */
    async markAllRead(known = 0) {
        if (unread === 0 && known === 0) return;
        marks += 1;
        const out = await post("/v1/notifications/read", { all: true });
        marks += 1;
        setCount(out.unread_count, { share: true });
    },
    setCount,
};
