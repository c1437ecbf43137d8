// Notifications: the list, new ones arriving live, cameo requests and follow
// requests answered in place; opening the inbox marks everything read.
import { h, clear, ago } from "../dom.js";
import { icon } from "../icons.js";
import { get, post as httpPost } from "../api.js";
import { notifications, describe, iconFor, who } from "../notifications.js";
import { avatar, empty, errorState, skeletonRows, toast } from "../ui.js";

function target(n) {
    if (n.kind === "cameo_request" || n.kind === "cameo_used") return "/cameo";
    if (n.post_id) return (n.kind === "comment" || n.kind === "reply") ? `/p/${n.post_id}?comments=1` : `/p/${n.post_id}`;
    if (!n.actor) return "/inbox"; // a moderators' notice about something that is not a post
    if (n.kind.startsWith("cameo_")) return `/u/${encodeURIComponent(n.actor.handle)}?tab=cameos`;
    return `/u/${encodeURIComponent(n.actor.handle)}`;
}

// a request answered in place: where its answer goes, and what the pill and the toast then say
const ANSWERS = {
    cameo_request: (n, action) => ({
        path: `/v1/cameos/${n.cameo_id}/grants/${n.actor.id}/${action}`,
        said: action === "approve" ? `@${n.actor.handle} can use your cameo` : "Request declined",
    }),
    follow_request: (n, action) => ({
        path: `/v1/me/follow-requests/${encodeURIComponent(n.actor.handle)}/${action}`,
        said: action === "approve" ? `@${n.actor.handle} follows you now` : "Request declined",
    }),
};

function answerable(n) {
    return n.actor && ((n.kind === "cameo_request" && n.cameo_id) || n.kind === "follow_request");
}

function row(n) {
    const actions = answerable(n) ? h("div.row-actions.inline",
        h("button.btn.small.ok", { onclick: (e) => answer(e, n, "approve") }, "Approve"),
        h("button.btn.small.ghost", { onclick: (e) => answer(e, n, "decline") }, "Decline")) : null;
    return h(`a.list-row.note${n.read ? "" : ".unread"}`, { href: target(n), dataset: { kind: n.kind, notificationId: n.id } },
        h("span.note-avatar", avatar(n.actor || { handle: "Fabula", display_name: "Fabula" }), h(`span.note-kind.${n.kind}`, icon(iconFor(n)))),
        h("div.grow", h("div.note-text", h("strong", who(n)), ` ${describe(n)}`), h("div.meta", ago(n.created_at)), actions));
}

async function answer(e, n, action) {
    e.preventDefault();
    e.stopPropagation();
    const box = e.target.closest(".row-actions");
    box.querySelectorAll("button").forEach((b) => (b.disabled = true));
    const { path, said } = ANSWERS[n.kind](n, action);
    try {
        await httpPost(path);
        box.replaceWith(h(`span.pill.${action === "approve" ? "ok" : ""}`, action === "approve" ? "Approved" : "Declined"));
        toast(said, { iconName: "check" });
    } catch (err) {
        if (err.status === 409 || err.status === 404) {  // answered already (elsewhere, or taken back): nothing to do here
            box.replaceWith(h("span.pill", "Answered already"));
            return;
        }
        box.querySelectorAll("button").forEach((b) => (b.disabled = false));
        toast(err.message, { iconName: "alert" });
    }
}

export function InboxScreen() {
    const list = h("div.list.notes", skeletonRows(6));
    const el = h("section.screen.scroll.inbox", h("header.topbar", h("h1", "Inbox")), h("div.screen-body", list));
    notifications.setQuiet(true);

    const off = notifications.onNew((n) => {
        if (list.querySelector(".empty")) clear(list);
        list.prepend(row(n));
        notifications.markAllRead().catch(() => {});
    });

    async function load() {
        try {
            const page = await get("/v1/notifications?limit=50");
            clear(list, page.data.length ? page.data.map(row)
                : empty({ iconName: "bell", title: "Nothing yet", text: "Likes, comments, follows and cameo requests show up here as they happen." }));
            await notifications.markAllRead(page.unread_count);
        } catch (err) {
            clear(list, errorState(err, load));
        }
    }
    load();
    return { el, title: "Inbox · Fabula", destroy() { off(); notifications.setQuiet(false); } };
}
